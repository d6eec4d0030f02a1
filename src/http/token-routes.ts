/** Back-channel endpoints: /token and /userinfo, answering in JSON (RFC 6749 §5, OIDC Core §5.3). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.js';
import type { Provider } from '../oauth/provider.js';
import { handleTokenRequest } from '../oauth/token.js';
import { bearerToken, userinfo } from '../oauth/userinfo.js';
import { jsonErrorHandler } from './errors.js';
import { formOf } from './form.js';

/** Form parameters as single values; RFC 6749 §3.2 forbids repeating one. */
const singleValued = (form: URLSearchParams): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [key, value] of form) {
    if (key in out) throw new OAuthError('invalid_request', `the ${key} parameter was sent more than once`);
    out[key] = value;
  }
  return out;
};

export const tokenRoutes = async (app: FastifyInstance, options: { provider: Provider }): Promise<void> => {
  const { provider } = options;
  app.setErrorHandler(jsonErrorHandler('Basic'));
  app.post('/token', async (request, reply) => {
    if (!(request.body instanceof URLSearchParams)) throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
    const response = await handleTokenRequest(provider, { authorization: request.headers.authorization, form: singleValued(request.body) });
    void reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(response);
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
