// The floor of `npm run bench`: a fastify route that does nothing for a token POST but sign one JWT access token with
// jose (CompactSign, as idport's signer does) and answer it, with no client authentication, no storage, no logging and
// no metrics. Whatever idport adds to a token grant is above what this route costs, so its rate, measured in the same
// run, bounds what any server built on fastify and jose could reach here.
//
// With TOKENS 2 it signs what the code grant signs: the access token, then an ID token whose at_hash binds it (OIDC
// Core §3.1.3.6), so the second signature waits for the first, as in idport.
//
//   node bench/floor-server.mjs PORT RS256|ES256 [1|2]
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { CompactSign, generateKeyPair } from 'jose';

const [port = '0', alg = 'RS256', tokens = '1'] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048 } : {});
const header = { alg, kid: `floor-${alg}`, typ: 'at+jwt' };
const idHeader = { alg, kid: `floor-${alg}`, typ: 'JWT' };
const sign = (claims, protectedHeader) =>
  new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(protectedHeader).sign(privateKey);
// RS256 and ES256 both hash with SHA-256: at_hash is the left half of the access token's hash.
const atHash = (token) => createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');

const app = Fastify({ logger: false });
// The form is read as a string and not parsed: the floor skips every check a real grant makes.
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
  done(null, body),
);
// `npm run bench` waits for this path to answer 200 before it measures.
app.get('/.well-known/openid-configuration', async () => ({ issuer }));
app.post('/token', async (_request, reply) => {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer,
    sub: 'bench',
    aud: 'bench',
    client_id: 'bench',
    iat,
    exp: iat + 3600,
    jti: String(Math.random()),
  };
  const accessToken = await sign(claims, header);
  const body = { access_token: accessToken, token_type: 'Bearer', expires_in: 3600 };
  if (tokens === '2') {
    const { iss, sub, aud, exp } = claims;
    body.id_token = await sign({ iss, sub, aud, azp: 'bench', iat, exp, at_hash: atHash(accessToken) }, idHeader);
  }
  reply.header('cache-control', 'no-store').header('content-type', 'application/json');
  return JSON.stringify(body);
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
