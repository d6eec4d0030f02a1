/**
 * Discovery and the JWKS, both public and cacheable: served from bytes serialized once (discovery at start, the
 * JWKS whenever the published keys change), each with a strong ETag, and 304 Not Modified to a client whose
 * `If-None-Match` names it. Cache-Control as Dex 2.45 sends it: none on discovery, `max-age=600, must-revalidate` on
 * the JWKS (the ETags are idport's addition).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { discoveryDocument } from '../oauth/discovery.js';
import type { Provider } from '../oauth/provider.js';
import { jsonErrorHandler } from './errors.js';

/** Dex's JWKS cache lifetime (server/handlers.go handlePublicKeys): ten minutes, then revalidate. */
export const JWKS_CACHE_CONTROL = 'max-age=600, must-revalidate';

/**
 * Whether `If-None-Match` names `etag` (RFC 9110 §13.1.2: a list of tags or `*`, compared weakly, so `W/"x"`
 * matches `"x"`).
 */
export const matchesEtag = (ifNoneMatch: string | undefined, etag: string): boolean => {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || (tag.startsWith('W/') ? tag.slice(2) : tag) === etag;
  });
};

/** Sends `body` as JSON with its ETag, or 304 with no body when the client already has it. */
const sendTagged = (
  request: FastifyRequest,
  reply: FastifyReply,
  document: { readonly body: Buffer; readonly etag: string },
): FastifyReply => {
  void reply.header('ETag', document.etag);
  if (matchesEtag(request.headers['if-none-match'], document.etag)) return reply.code(304).send();
  return reply.type('application/json').send(document.body);
};

export const discoveryRoutes = async (app: FastifyInstance, options: { provider: Provider }): Promise<void> => {
  const { provider } = options;
  app.setErrorHandler(jsonErrorHandler('Bearer'));
  // Serialized at the first request rather than here: the signing algorithms come from the keys, which a first
  // start is still generating while the routes are registered (src/server.ts).
  let discovery: { readonly body: Buffer; readonly etag: string } | undefined;
  const discoveryBytes = (): { readonly body: Buffer; readonly etag: string } => {
    if (discovery !== undefined) return discovery;
    const body = Buffer.from(
      JSON.stringify(discoveryDocument(provider.settings, provider.signer.signingAlgorithms())),
      'utf8',
    );
    discovery = { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
    return discovery;
  };
  app.get('/.well-known/openid-configuration', async (request, reply) => sendTagged(request, reply, discoveryBytes()));
  app.get('/keys', async (request, reply) => {
    const jwks = await provider.signer.jwksDocument();
    void reply.header('Cache-Control', JWKS_CACHE_CONTROL);
    return sendTagged(request, reply, jwks);
  });
};
