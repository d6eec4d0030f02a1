// The signing ceiling of `npm run bench`: how many JWS signatures per second jose produces on this machine with
// every core busy, in a process of its own. A concurrent loop keeps IN_FLIGHT signatures pending (jose signs
// through WebCrypto, whose jobs run on libuv's thread pool, so one process uses all cores) for SECONDS, after a
// one-second warm-up. Prints one JSON line: {"alg", "perSecond", "signatures", "threadpool"}.
//
//   node bench/ceiling.mjs RS256|ES256 SECONDS
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateKeyPair, SignJWT } from 'jose';

const [alg = 'RS256', secondsArg = '5'] = process.argv.slice(2);
const SECONDS = Number(secondsArg);
const IN_FLIGHT = 64;
const { privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048 } : {});
// A payload the size of a typical access token.
const payload = {
  iss: 'http://127.0.0.1:5556/dex',
  sub: 'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs',
  aud: 'bench',
  client_id: 'bench',
  scope: 'openid email profile offline_access',
  email: 'admin@example.com',
  email_verified: true,
  name: 'admin',
};
const sign = () =>
  new SignJWT({ ...payload, jti: String(Math.random()) })
    .setProtectedHeader({ alg, typ: 'at+jwt', kid: 'k' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);

const loop = async (until) => {
  let count = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await sign();
      count++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return count;
};

await loop(performance.now() + 1000);
const started = performance.now();
const signatures = await loop(started + SECONDS * 1000);
const elapsed = (performance.now() - started) / 1000;
const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
console.log(
  JSON.stringify({ alg, perSecond: signatures / elapsed, signatures, threadpool, cores: availableParallelism() }),
);
