/** application/x-www-form-urlencoded bodies, kept as URLSearchParams so repeated parameters stay visible. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.js';
import type { TokenRequest } from '../oauth/grants/grant.js';

/**
 * Largest form body: /auth's parameters at their limits (src/oauth/primitives/parameter-limits.ts) fit in about
 * 26 KiB, and every other form is far smaller.
 */
export const FORM_BODY_LIMIT = 32 * 1024;

/** Fastify errors for a body idport will not read: the connection is closed after the answer. */
export const UNREAD_BODY_ERRORS = new Set(['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_CTP_BODY_TOO_LARGE']);

/**
 * Makes forms the only body the app reads: fastify's default JSON and text parsers go, so any other media type is
 * refused (415, in the route's error format) before its body is read. The parsed body is a URLSearchParams;
 * the media type's parameters (a charset) do not matter.
 */
export const registerFormParser = (app: FastifyInstance): void => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_request, body, done) => {
      done(null, new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8')));
    },
  );
};

/** The request's form body, or an empty one when it sent none. */
export const formOf = (request: FastifyRequest): URLSearchParams =>
  request.body instanceof URLSearchParams ? request.body : new URLSearchParams();

/** Form parameters as single values; RFC 6749 §3.2 (and RFC 8628 §3.1, RFC 7662, RFC 7009) forbid repeating one. */
const singleValued = (form: URLSearchParams): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [key, value] of form) {
    if (key in out) throw new OAuthError('invalid_request', `the ${key} parameter was sent more than once`);
    out[key] = value;
  }
  return out;
};

/** The refusal of a body that is not a form, whichever layer notices it first. */
export const notAForm = (): OAuthError =>
  new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');

/** The form of a back-channel POST and its Authorization header; anything but a form is invalid_request. */
export const formRequest = (request: FastifyRequest): TokenRequest => {
  if (!(request.body instanceof URLSearchParams)) throw notAForm();
  return { authorization: request.headers.authorization, form: singleValued(request.body), clientIp: request.ip };
};
