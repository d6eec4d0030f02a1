/**
 * The anonymous flood (issue 10): 3,000 maximal /auth requests (state, nonce and login_hint at their 1 KiB limits,
 * every scope Dex knows) from 300 client addresses, and 1,000 /device/code requests from a public client, against
 * idport on SQLite. Measures how much the database file grew, with its WAL.
 */
import { configHead, mb, sizeOf, startIdport, type AbuseRow } from './idport.js';

const AUTH_REQUESTS = 3_000;
const ADDRESSES = 300;
const DEVICE_REQUESTS = 1_000;
const CONCURRENCY = 20;
const REDIRECT = 'http://127.0.0.1:5555/callback';

const config = (
  issuer: string,
  port: number,
  dir: string,
): string => `${configHead({ issuer, port, dir, trustProxy: true })}oauth2:
  grantTypes: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:device_code"]
staticClients:
- id: web
  name: Web
  secret: web-secret
  redirectURIs: ['${REDIRECT}']
- id: cli
  name: CLI
  public: true
enablePasswordDB: true
`;

/** Runs `count` requests, `CONCURRENCY` at a time; returns how many got `expected`. */
const flood = async (count: number, send: (i: number) => Promise<Response>, expected: number): Promise<number> => {
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const response = await send(next++);
      await response.arrayBuffer();
      if (response.status === expected) ok++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return ok;
};

const maximal = (i: number): string =>
  new URLSearchParams({
    client_id: 'web',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email profile groups offline_access federated:id',
    state: `${i}`.padEnd(1024, 's'),
    nonce: `${i}`.padEnd(1024, 'n'),
    login_hint: `${i}`.padEnd(1024, 'h'),
    code_challenge: 'c'.repeat(128),
    code_challenge_method: 'plain',
  }).toString();

export async function run(): Promise<AbuseRow[]> {
  const idport = await startIdport(config);
  try {
    const before = sizeOf(idport.dir, 'idport.db');
    const authOk = await flood(
      AUTH_REQUESTS,
      (i) =>
        fetch(`${idport.issuer}/auth`, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-forwarded-for': `10.0.${Math.floor((i % ADDRESSES) / 250)}.${(i % ADDRESSES) % 250}`,
          },
          body: maximal(i),
        }),
      303,
    );
    const afterAuth = sizeOf(idport.dir, 'idport.db');
    const deviceOk = await flood(
      DEVICE_REQUESTS,
      () =>
        fetch(`${idport.issuer}/device/code`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            client_id: 'cli',
            scope: 'openid email profile groups offline_access federated:id',
            code_challenge: 'c'.repeat(128),
            code_challenge_method: 'plain',
          }).toString(),
        }),
      200,
    );
    const afterDevice = sizeOf(idport.dir, 'idport.db');
    const authGrowth = afterAuth - before;
    const deviceGrowth = afterDevice - afterAuth;
    return [
      {
        measure: `/auth requests stored (${ADDRESSES} addresses, no per-IP limit)`,
        value: `${authOk}/${AUTH_REQUESTS}`,
        limit: `${AUTH_REQUESTS}`,
        pass: authOk === AUTH_REQUESTS,
      },
      {
        measure: `SQLite+WAL growth, ${AUTH_REQUESTS} maximal /auth`,
        value: `${mb(authGrowth)} (${Math.round(authGrowth / AUTH_REQUESTS)} B/request)`,
        limit: '25 MB',
        pass: authGrowth <= 25_000_000,
      },
      {
        measure: `SQLite+WAL growth, ${DEVICE_REQUESTS} /device/code`,
        value: `${mb(deviceGrowth)} (${deviceOk} answered 200)`,
        limit: '10 MB',
        pass: deviceGrowth <= 10_000_000 && deviceOk === DEVICE_REQUESTS,
      },
    ];
  } finally {
    await idport.stop();
  }
}
