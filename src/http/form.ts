/** application/x-www-form-urlencoded bodies, kept as URLSearchParams so repeated parameters stay visible. */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Registers the form parser on an app; the parsed body is a URLSearchParams. */
export const registerFormParser = (app: FastifyInstance): void => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    done(null, new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8')));
  });
};

/** The request's form body, or an empty one when it sent none. */
export const formOf = (request: FastifyRequest): URLSearchParams =>
  request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
