/**
 * The landing page at the issuer URL (and at the host root when the issuer has a path), and the 404 answer: an HTML
 * page for browsers, RFC 6749-style JSON for everything else, both saying where discovery is.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderLanding, renderNotFound } from '../../web/landing.js';
import type { Provider } from '../oauth/provider.js';
import { sendPage, type PageContext } from './pages.js';

export interface LandingOptions {
  readonly provider: Provider;
  readonly page: PageContext;
}

/** GET / of the scope it is registered in: the issuer path, or the host root. */
export const landingRoutes = async (app: FastifyInstance, options: LandingOptions): Promise<void> => {
  const { provider, page } = options;
  app.get('/', async (_request, reply) => {
    sendPage(reply, page, renderLanding({ ...page.base, issuer: provider.settings.issuer }));
  });
};

/** A browser asks for HTML; API clients and curl (which accept anything) get JSON. */
const wantsHtml = (request: FastifyRequest): boolean => (request.headers.accept ?? '').includes('text/html');

/** The app's 404 handler: where discovery is, in the form the caller reads. */
export const notFoundHandler =
  (options: LandingOptions) =>
  (request: FastifyRequest, reply: FastifyReply): void => {
    const { issuer } = options.provider.settings;
    if (wantsHtml(request)) {
      const body = renderNotFound({ ...options.page.base, issuer, requestId: request.id });
      return sendPage(reply, options.page, body, { status: 404 });
    }
    void reply
      .code(404)
      .header('Cache-Control', 'no-store')
      .send({
        error: 'not_found',
        error_description: `nothing is served at this path; OpenID Connect discovery is at ${issuer}/.well-known/openid-configuration`,
      });
  };
