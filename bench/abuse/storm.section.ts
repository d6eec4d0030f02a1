/**
 * The wrong-password storm (issue 10): 40 client addresses each send 20 wrong passwords, one at a time, half of
 * them through the password page and half through the password grant. Every guess names another account, so the
 * per-account lockout never spares a bcrypt check, and each address stays inside `bruteForce.maxFailuresPerIP`.
 * Meanwhile one prober asks /token for a client-credentials token and another /healthz/live, each one request at a
 * time; their p99 latency during the storm is compared with the same probes measured on the idle server before it
 * (after a warm-up). The only bcrypt hash in use has cost 10, so unknown accounts are checked against cost 10 too.
 */
import { Browser, formsOf, type Page } from './browser.js';
import { configHead, startIdport, type AbuseRow } from './idport.js';

const ADDRESSES = 40;
const GUESSES = 20;
const IDLE_PROBES = 300;
/** Probes sent and not counted before the idle measurement: the first requests compile code and load the keys. */
const WARM_UP = 30;
const PROBE_PAUSE_MS = 20;
const REDIRECT = 'http://127.0.0.1:5555/callback';
const BASIC = `Basic ${Buffer.from('web:web-secret').toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

const config = (
  issuer: string,
  port: number,
  dir: string,
): string => `${configHead({ issuer, port, dir, trustProxy: true })}oauth2:
  grantTypes: [authorization_code, refresh_token, password, client_credentials]
  passwordConnector: local
staticClients:
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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The 99th percentile (nearest rank) of the samples, in ms. */
const p99 = (samples: readonly number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? Number.NaN;
};

/** Latencies of one probe, sent one at a time with a pause, until `count` samples or until `until()` is true. */
const probe = async (send: () => Promise<boolean>, stop: { count?: number; until?: () => boolean }) => {
  const samples: number[] = [];
  let failures = 0;
  while (stop.count !== undefined ? samples.length < stop.count : stop.until?.() !== true) {
    const started = performance.now();
    if (!(await send().catch(() => false))) failures++;
    samples.push(performance.now() - started);
    await sleep(PROBE_PAUSE_MS);
  }
  return { samples, failures };
};

const tokenProbe = (issuer: string) => async (): Promise<boolean> => {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: BASIC },
    body: 'grant_type=client_credentials&scope=openid',
  });
  await response.arrayBuffer();
  return response.status === 200;
};

const liveProbe = (base: string) => async (): Promise<boolean> => {
  const response = await fetch(`${base}/healthz/live`);
  await response.arrayBuffer();
  return response.status === 200;
};

/**
 * How each guess was answered: `refused` (the ordinary wrong-password answer), `busy` (503: the check waited past
 * BCRYPT_MAX_QUEUE_WAIT_MS for a slot, a "try again later" that says nothing about the password), `dropped` (no
 * answer at all), or another.
 */
type Tally = Map<string, number>;
const count = (tally: Tally, outcome: string): void => {
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
};

/** One address guessing through the password grant; the ordinary refusal is 400 invalid_grant. */
const grantAttacker = async (issuer: string, address: number, tally: Tally): Promise<void> => {
  for (let n = 0; n < GUESSES; n++) {
    try {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': FORM, authorization: BASIC, 'x-forwarded-for': `10.3.0.${address}` },
        body: new URLSearchParams({
          grant_type: 'password',
          username: `grant-${address}-${n}@example.com`,
          password: 'wrong',
          scope: 'openid',
        }).toString(),
      });
      const { error } = (await response.json()) as { error?: unknown };
      const busy = response.status === 503 && error === 'temporarily_unavailable';
      count(
        tally,
        response.status === 400 && error === 'invalid_grant'
          ? 'refused'
          : busy
            ? 'busy'
            : `grant ${response.status} ${error}`,
      );
    } catch {
      count(tally, 'dropped');
    }
  }
};

/**
 * One address guessing through the password page of one authorization request (a new one after a dropped
 * connection); the ordinary refusal is the login page again with 401.
 */
const pageAttacker = async (issuer: string, address: number, tally: Tally): Promise<void> => {
  const browser = new Browser(`10.3.1.${address}`);
  const query = new URLSearchParams({
    client_id: 'web',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
  });
  let page: Page | undefined;
  for (let n = 0; n < GUESSES; n++) {
    try {
      page ??= await browser.follow(`${issuer}/auth?${query}`, REDIRECT);
      const form = formsOf(page).find((f) => 'login' in f.fields);
      if (form === undefined) throw new Error(`no login form at ${page.url} (${page.status})`);
      const values = { login: `page-${address}-${n}@example.com`, password: 'wrong' };
      page = await browser.follow(form.action, REDIRECT, { ...form.fields, ...values });
      const outcome = page.status === 401 ? 'refused' : page.status === 503 ? 'busy' : `page ${page.status}`;
      count(tally, page.location === undefined ? outcome : `page ${page.status} redirected`);
      // The busy page has no form: the next guess starts a new authorization request.
      if (page.status === 503) page = undefined;
    } catch {
      count(tally, 'dropped');
      page = undefined;
    }
  }
};

const storm = async (issuer: string): Promise<Tally> => {
  const tally: Tally = new Map();
  await Promise.all(
    Array.from({ length: ADDRESSES }, (_, a) =>
      a % 2 === 0 ? pageAttacker(issuer, a, tally) : grantAttacker(issuer, a, tally),
    ),
  );
  return tally;
};

const row = (what: string, idle: number, during: number, failures: number): AbuseRow => {
  const limit = 2 * idle + 25;
  return {
    measure: `${what} p99, idle → during the storm`,
    value: `${idle.toFixed(1)} ms → ${during.toFixed(1)} ms${failures > 0 ? ` (${failures} failed)` : ''}`,
    limit: `≤ 2 × idle + 25 ms = ${limit.toFixed(1)} ms`,
    pass: during <= limit && failures === 0,
  };
};

export async function run(): Promise<AbuseRow[]> {
  const idport = await startIdport(config);
  try {
    await Promise.all([
      probe(tokenProbe(idport.issuer), { count: WARM_UP }),
      probe(liveProbe(idport.base), { count: WARM_UP }),
    ]);
    const [idleToken, idleLive] = await Promise.all([
      probe(tokenProbe(idport.issuer), { count: IDLE_PROBES }),
      probe(liveProbe(idport.base), { count: IDLE_PROBES }),
    ]);
    let over = false;
    const started = Date.now();
    const [tally, stormToken, stormLive] = await Promise.all([
      storm(idport.issuer).finally(() => (over = true)),
      probe(tokenProbe(idport.issuer), { until: () => over }),
      probe(liveProbe(idport.base), { until: () => over }),
    ]);
    const seconds = (Date.now() - started) / 1000;
    const total = ADDRESSES * GUESSES;
    const refused = tally.get('refused') ?? 0;
    const busy = tally.get('busy') ?? 0;
    const others = [...tally].filter(([o]) => o !== 'refused' && o !== 'busy').map(([o, n]) => `${n} ${o}`);
    return [
      {
        measure: `wrong passwords answered: refused + busy (${ADDRESSES} addresses × ${GUESSES}, page and grant)`,
        value: `${refused} + ${busy} = ${refused + busy}/${total} in ${seconds.toFixed(1)} s${others.length > 0 ? `; ${others.join(', ')}` : ''}`,
        limit: `${total}, none dropped`,
        pass: refused + busy === total,
      },
      row('/token (client_credentials)', p99(idleToken.samples), p99(stormToken.samples), stormToken.failures),
      row('/healthz/live', p99(idleLive.samples), p99(stormLive.samples), stormLive.failures),
    ];
  } finally {
    await idport.stop();
  }
}
