/**
 * Back-channel endpoints: /token, /token/introspect, /token/revoke and /userinfo, answering in JSON (RFC 6749 §5,
 * RFC 7662, RFC 7009, OIDC Core §5.3).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.js';
import { introspect } from '../oauth/tokens/introspect.js';
import type { Provider } from '../oauth/provider.js';
import { revokeToken } from '../oauth/tokens/revoke.js';
import { handleTokenRequest } from '../oauth/grants/endpoint.js';
import { bearerToken, userinfo } from '../oauth/tokens/userinfo.js';
import { wireDescription } from '../oauth/primitives/error-description.js';
import { jsonErrorHandler } from './errors.js';
import { formOf, formRequest } from './form.js';
import { LoginThrottledError } from '../oauth/brute-force.js';

/** The client id a token request names: the Basic user (URL-decoded, RFC 6749 §2.3.1) or the client_id field. */
const clientIdOf = (request: FastifyRequest): string | undefined => {
  const authorization = request.headers.authorization ?? '';
  if (/^basic /i.test(authorization)) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    try {
      return decodeURIComponent(colon < 0 ? decoded : decoded.slice(0, colon));
    } catch {
      return undefined;
    }
  }
  return request.body instanceof URLSearchParams ? (request.body.get('client_id') ?? undefined) : undefined;
};

/** The one line that says why a token request failed (never the secret, code or token presented). */
const logTokenFailure = (request: FastifyRequest, err: OAuthError | LoginThrottledError): void => {
  const grantType = request.body instanceof URLSearchParams ? (request.body.get('grant_type') ?? undefined) : undefined;
  const context = { client_id: clientIdOf(request), grant_type: grantType };
  if (err instanceof LoginThrottledError)
    request.log.warn({ ...context, retry_after: err.retryAfterSeconds }, 'token request rate limited');
  else request.log.warn({ ...context, error: err.code, description: err.description }, 'token request failed');
};

/** The JSON error handler, plus 429 with Retry-After for a client over the password-grant limit. */
const tokenErrorHandler = (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
  if (err instanceof OAuthError || err instanceof LoginThrottledError) logTokenFailure(request, err);
  if (!(err instanceof LoginThrottledError)) return jsonErrorHandler('Basic')(err, request, reply);
  void reply
    .code(429)
    .header('Retry-After', String(err.retryAfterSeconds))
    .header('Cache-Control', 'no-store')
    .header('Pragma', 'no-cache')
    // RFC 6749 defines no code for this; temporarily_unavailable says "try again later", Retry-After says when.
    .send({ error: 'temporarily_unavailable', error_description: wireDescription(err.message) });
};

export const tokenRoutes = async (app: FastifyInstance, options: { provider: Provider }): Promise<void> => {
  const { provider } = options;
  app.setErrorHandler(tokenErrorHandler);
  app.post('/token', async (request, reply) => {
    const response = await handleTokenRequest(provider, formRequest(request));
    void reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(response);
  });
  // Dex answers any other method at /token with 400 invalid_request (server/handlers.go handleToken), not 404.
  app.get('/token', async () => {
    throw new OAuthError('invalid_request', 'method not allowed');
  });
  // RFC 7662 §2.2; Dex's path.
  app.post('/token/introspect', async (request, reply) => {
    const response = await introspect(provider, formRequest(request));
    void reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(response);
  });
  // RFC 7009 §2.2: 200 with an empty body, whether or not there was anything to revoke.
  app.post('/token/revoke', async (request, reply) => {
    await revokeToken(provider, formRequest(request));
    void reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send();
  });
};

export const userinfoRoutes = async (app: FastifyInstance, options: { provider: Provider }): Promise<void> => {
  const { provider } = options;
  app.setErrorHandler(jsonErrorHandler('Bearer'));
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const formToken = request.method === 'POST' ? (formOf(request).get('access_token') ?? undefined) : undefined;
    const claims = await userinfo(provider, bearerToken(request.headers.authorization, formToken));
    void reply.header('Cache-Control', 'no-store').send(claims);
  };
  app.get('/userinfo', handler);
  app.post('/userinfo', handler);
};
