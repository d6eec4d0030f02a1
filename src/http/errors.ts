/**
 * The only place errors become responses (ARCHITECTURE.md decision 7). Each route group installs the handler
 * for its channel: JSON for the token and userinfo endpoints, a redirect or an HTML page for the browser.
 */
import { PageError } from '../oauth/primitives/page-error.js';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError, statusOf } from '../errors.js';
import { RedirectableError } from '../oauth/authorize/request.js';
import { errorResponse } from '../oauth/authorize/flow.js';
import { wireDescription } from '../oauth/primitives/error-description.js';
import type { Provider } from '../oauth/provider.js';
import { ConnectorError } from '../../connectors/connector.js';
import { StorageUnavailableError } from '../../storage/storage.js';
import { sendAuthorizationResponse, sendPage, type PageContext } from './pages.js';
import { LoginThrottledError } from '../oauth/brute-force.js';
import { pageErrorSentence } from '../../web/page-errors.js';
import { renderError } from '../../web/render.js';

/** Normalises anything thrown into an OAuthError, logging what is unexpected with its cause. */
export const toOAuthError = (err: unknown, request: FastifyRequest): OAuthError => {
  if (err instanceof OAuthError) return err;
  const code = (err as Partial<FastifyError> | undefined)?.code;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new OAuthError('invalid_request', 'the body is too large');
  const validation = (err as Partial<FastifyError> | undefined)?.validation;
  const statusCode = (err as Partial<FastifyError> | undefined)?.statusCode;
  // Fastify's validation failures and its other 4xx (a body too large, a bad content type) are the client's fault.
  if (validation !== undefined || (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500)) {
    return new OAuthError('invalid_request', 'the request is malformed');
  }
  if (err instanceof StorageUnavailableError) {
    request.log.error({ err }, 'storage unavailable');
    return new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable');
  }
  request.log.error({ err }, 'unexpected error');
  return new OAuthError('server_error');
};

/** For /token and /userinfo: RFC 6749 §5.2 JSON, never cached; RFC 6750 §3 WWW-Authenticate where it applies. */
export const jsonErrorHandler =
  (scheme: 'Basic' | 'Bearer') =>
  (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const error = toOAuthError(err, request);
    const status = statusOf(error);
    if (status === 401) {
      const realm = scheme === 'Basic' ? 'Basic realm="idport"' : `Bearer realm="idport", error="${error.code}"`;
      void reply.header('WWW-Authenticate', realm);
    }
    void reply
      .code(status)
      .header('Cache-Control', 'no-store')
      .header('Pragma', 'no-cache')
      .send({
        error: error.code,
        ...(error.description !== undefined ? { error_description: wireDescription(error.description) } : {}),
      });
  };

/**
 * For browser routes: errors about a verified request go back to the client (RFC 6749 §4.1.2.1); everything
 * else is an HTML page with a generic message — details stay in the log.
 */
export const pageErrorHandler =
  (provider: Provider, page: PageContext) =>
  (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    if (err instanceof RedirectableError) {
      try {
        sendAuthorizationResponse(reply, page, errorResponse(provider, err.target, err));
        return;
      } catch (inner: unknown) {
        err = inner;
      }
    }
    let status = 400;
    let title = 'Bad request';
    let message: string;
    if (err instanceof LoginThrottledError) {
      // No code is issued; the page says when to try again, and so does Retry-After.
      status = 429;
      title = 'Too many failed attempts';
      message = err.message;
      void reply.header('Retry-After', String(err.retryAfterSeconds));
    } else if (err instanceof PageError) {
      message = pageErrorSentence(err.code, err.params);
    } else if (err instanceof ConnectorError) {
      request.log.warn({ err: err.message }, 'connector login failed');
      status = err.temporary ? 503 : 502;
      title = 'Login failed';
      message = err.userMessage;
    } else {
      const error = toOAuthError(err, request);
      status = statusOf(error);
      title = status >= 500 ? 'Something went wrong' : 'Bad request';
      message =
        status >= 500 ? 'idport could not complete the request. Try again later.' : (error.description ?? error.code);
    }
    sendPage(reply, page, renderError({ ...page.base, title, message }), { status });
  };
