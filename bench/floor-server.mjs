// The floor of `npm run bench`: a fastify route that does nothing for a client_credentials POST but sign one JWT
// access token with jose (CompactSign, as idport's signer does) and answer it, with no client authentication, no
// storage, no logging and no metrics. Whatever idport adds to a token grant is above what this route costs, so its
// rate, measured against node-oidc-provider in the same run, bounds what any server built on fastify and jose could
// reach here.
//
//   node bench/floor-server.mjs PORT RS256|ES256
import { Buffer } from 'node:buffer';
import Fastify from 'fastify';
import { CompactSign, generateKeyPair } from 'jose';

const [port = '0', alg = 'RS256'] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048 } : {});
const header = { alg, kid: `floor-${alg}`, typ: 'at+jwt' };

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
  const accessToken = await new CompactSign(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader(header)
    .sign(privateKey);
  reply.header('cache-control', 'no-store').header('content-type', 'application/json');
  return JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600 });
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
