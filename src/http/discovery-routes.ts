/** Discovery and the JWKS, both public and cacheable. */
import type { FastifyInstance } from 'fastify';
import { discoveryDocument } from '../oauth/discovery.js';
import type { Provider } from '../oauth/provider.js';
import { jsonErrorHandler } from './errors.js';

export const discoveryRoutes = async (app: FastifyInstance, options: { provider: Provider }): Promise<void> => {
  const { provider } = options;
  app.setErrorHandler(jsonErrorHandler('Bearer'));
  const document = JSON.stringify(discoveryDocument(provider.settings, provider.signer.signingAlgorithms()));
  app.get('/.well-known/openid-configuration', async (_request, reply) => {
    void reply.type('application/json').header('Cache-Control', 'public, max-age=3600').send(document);
  });
  app.get('/keys', async (_request, reply) => {
    const [jwks, nextRotation] = await Promise.all([provider.signer.jwks(), provider.signer.nextRotation()]);
    // Cache until the next rotation (as Dex does), so clients pick up a new key soon after it appears.
    const untilRotation = Math.floor((nextRotation.getTime() - provider.deps.clock.now().getTime()) / 1000);
    void reply
      .header('Cache-Control', `public, max-age=${Math.max(0, Math.min(untilRotation, 86_400))}, must-revalidate`)
      .send(jwks);
  });
};
