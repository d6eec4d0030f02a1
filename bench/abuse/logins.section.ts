/**
 * An office behind one NAT address (issue 10): 60 users log in through the password page from the same client address
 * within a minute, each in a browser of their own, and their application redeems each code at /token. All must pass:
 * successes count against no limit, and /auth has no per-IP limit.
 */
import { Browser, loginThroughPages } from './browser.js';
import { configHead, startIdport, type AbuseRow } from './idport.js';

const LOGINS = 60;
const CONCURRENCY = 4;
const WITHIN_MS = 60_000;
const ADDRESS = '10.2.0.1';
const REDIRECT = 'http://127.0.0.1:5555/callback';

const config = (
  issuer: string,
  port: number,
  dir: string,
): string => `${configHead({ issuer, port, dir, trustProxy: true })}staticClients:
- id: web
  name: Web
  secret: web-secret
  redirectURIs: ['${REDIRECT}']
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: $2b$10$YSTrr.rdrfbKx4KchJqelOzDrWI4vS9/N8eMIt1vtSvsnAWN2alzq
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
`;

/** One user's login from the shared address: the pages, then the code redeemed. True when tokens came back. */
const login = async (issuer: string, n: number): Promise<boolean> => {
  const params = new URLSearchParams({
    client_id: 'web',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email',
    state: `login-${n}`,
  });
  const location = await loginThroughPages(new Browser(ADDRESS), `${issuer}/auth?${params}`, REDIRECT, {
    login: 'admin@example.com',
    password: 'password',
  });
  const code = location === undefined ? null : new URL(location).searchParams.get('code');
  if (code === null) return false;
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('web:web-secret').toString('base64')}`,
      'x-forwarded-for': ADDRESS,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }).toString(),
  });
  const body = (await response.json()) as { access_token?: unknown };
  return response.status === 200 && typeof body.access_token === 'string';
};

export async function run(): Promise<AbuseRow[]> {
  const idport = await startIdport(config);
  try {
    let next = 0;
    let passed = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (next < LOGINS) if (await login(idport.issuer, next++)) passed++;
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - started;
    return [
      {
        measure: `successful logins from one address (password page + code redeemed)`,
        value: `${passed}/${LOGINS} in ${(elapsed / 1000).toFixed(1)} s`,
        limit: `${LOGINS} within ${WITHIN_MS / 1000} s`,
        pass: passed === LOGINS && elapsed <= WITHIN_MS,
      },
    ];
  } finally {
    await idport.stop();
  }
}
