// The comparison side of `npm run bench`: panva's node-oidc-provider 9 in its own process, configured as close to
// idport's bench config as it allows: a confidential client with client_secret_basic, the client_credentials grant,
// JWT access tokens (resource indicators with a default resource whose accessTokenFormat is 'jwt'), one signing key
// of the given algorithm generated at start (as idport generates its first key in fresh storage). Plain JavaScript
// run by plain node, so its start time is not charged with a TypeScript loader.
//
//   node bench/oidc-provider-server.mjs PORT RS256|ES256
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const [port = '0', alg = 'RS256'] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:idport:bench';

const { privateKey } = await generateKeyPair(alg, {
  extractable: true,
  ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
});
const jwk = { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bench-${alg}` };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:1/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: alg,
    },
  ],
  jwks: { keys: [jwk] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: RESOURCE,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg } },
      }),
    },
  },
});
// Errors answered to clients are not logged by default; a server error would be, to stderr.
provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error}\n`));
provider.listen(Number(port), '127.0.0.1');
