/** web.headers, web.allowedHeaders and web.clientRemoteIP over real HTTP, from YAML through createServer. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { clientIpReader } from '../../src/http/client-ip.js';
import { Browser } from '../support/browser.js';
import { configYaml, EMAIL, passwordForm, start, type Started } from './support.js';

const HEADERS = `web:
  http: 127.0.0.1:0
  headers:
    Content-Security-Policy: "default-src 'none'; frame-ancestors https://portal.example.com"
    X-Frame-Options: SAMEORIGIN
    Strict-Transport-Security: max-age=31536000
  allowedOrigins: [https://spa.example.com]
  allowedHeaders: [X-Requested-With, authorization]
`;

describe('web.headers', () => {
  let idport: Started;
  before(async () => {
    idport = await start(configYaml(HEADERS));
  });
  after(() => idport.close());

  const assertConfigured = (headers: Headers, what: string): void => {
    assert.equal(
      headers.get('content-security-policy'),
      "default-src 'none'; frame-ancestors https://portal.example.com",
      what,
    );
    assert.equal(headers.get('x-frame-options'), 'SAMEORIGIN', what);
    assert.equal(headers.get('strict-transport-security'), 'max-age=31536000', what);
  };

  it('are on JSON responses: discovery, a /token error and a 404', async () => {
    const discovery = await fetch(`${idport.origin}/dex/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
    assertConfigured(discovery.headers, 'discovery');
    const token = await fetch(`${idport.origin}/dex/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=nope',
    });
    assert.equal(token.status, 401);
    assert.equal(token.headers.get('cache-control'), 'no-store');
    assertConfigured(token.headers, '/token error');
    const missing = await fetch(`${idport.origin}/nowhere`);
    assert.equal(missing.status, 404);
    assertConfigured(missing.headers, '404');
  });

  it("replace a page's own header of the same name and leave its others", async () => {
    const browser = new Browser();
    await passwordForm(browser, idport.origin);
    const page = await browser.request(`${idport.origin}/dex/auth/local/login?state=unknown`);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assertConfigured(page.headers, 'HTML page');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff', 'the page default for an unconfigured header');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
  });

  it('are on redirects', async () => {
    const response = await fetch(
      `${idport.origin}/dex/auth?client_id=example-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:5555/callback')}`,
      { redirect: 'manual' },
    );
    assert.equal(response.status, 303);
    assertConfigured(response.headers, 'redirect');
  });
});

describe('web.allowedHeaders', () => {
  let idport: Started;
  before(async () => {
    idport = await start(configYaml(HEADERS));
  });
  after(() => idport.close());

  it('are allowed in the CORS preflight beside Authorization and Content-Type, without repeats', async () => {
    const response = await fetch(`${idport.origin}/dex/token`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://spa.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-requested-with',
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://spa.example.com');
    assert.equal(response.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, X-Requested-With');
    assert.equal(response.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');
  });

  it('are not offered to an origin that is not allowed', async () => {
    const response = await fetch(`${idport.origin}/dex/token`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(response.headers.get('access-control-allow-headers'), null);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });
});

/** A raw request as the reader sees it: the peer's address and the headers. */
const raw = (remoteAddress: string, headers: Record<string, string | string[]> = {}): IncomingMessage =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

describe('client IP reader', () => {
  const forwardedFor = clientIpReader({ header: 'X-Forwarded-For', trustedProxies: ['10.0.0.0/8', 'fd00::/8'] });

  it('is the peer when the peer is not a trusted proxy, whatever the header says', () => {
    assert.equal(forwardedFor(raw('192.0.2.7', { 'x-forwarded-for': '203.0.113.1' })), '192.0.2.7');
  });

  it('is the rightmost untrusted address of the list when the peer is a trusted proxy', () => {
    assert.equal(
      forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': '198.51.100.9, 203.0.113.1, 10.0.0.2' })),
      '203.0.113.1',
    );
    assert.equal(
      forwardedFor(raw('::ffff:10.0.0.1', { 'x-forwarded-for': '203.0.113.1' })),
      '203.0.113.1',
      'an IPv4-mapped peer',
    );
    assert.equal(forwardedFor(raw('fd00::1', { 'x-forwarded-for': '2001:db8::5' })), '2001:db8::5');
  });

  it('is the leftmost address when every hop is trusted, and the peer without a header', () => {
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': '10.0.0.3, 10.0.0.2' })), '10.0.0.3');
    assert.equal(forwardedFor(raw('10.0.0.1')), '10.0.0.1');
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': '' })), '10.0.0.1');
  });

  it('stops at an entry that is not an IP, at the last address known good', () => {
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': '203.0.113.1, unknown, 10.0.0.2' })), '10.0.0.2');
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': 'not-an-ip' })), '10.0.0.1');
  });

  it('accepts addresses with ports, and a header sent twice', () => {
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': '203.0.113.1:4711' })), '203.0.113.1');
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': '[2001:db8::5]:4711' })), '2001:db8::5');
    assert.equal(forwardedFor(raw('10.0.0.1', { 'x-forwarded-for': ['198.51.100.9', '203.0.113.1'] })), '203.0.113.1');
  });

  it('reads the configured header and no other', () => {
    const realIp = clientIpReader({ header: 'X-Real-IP', trustedProxies: ['10.0.0.0/8'] });
    assert.equal(
      realIp(raw('10.0.0.1', { 'x-real-ip': '203.0.113.1', 'x-forwarded-for': '198.51.100.9' })),
      '203.0.113.1',
    );
    assert.equal(realIp(raw('10.0.0.1', { 'x-forwarded-for': '198.51.100.9' })), '10.0.0.1');
  });
});

/** A small per-IP budget and no account lockout, so these tests measure the client IP alone. */
const FAILURES_PER_IP = 3;
const BRUTE_FORCE = `bruteForce:\n  maxFailures: 0\n  maxFailuresPerIP: ${FAILURES_PER_IP}\n`;

describe('web.clientRemoteIP over HTTP', () => {
  /** Spends the password budget of client IP `first` (sent in X-Real-IP), then tries once more from it and from `next`. */
  const exhaustThenTry = async (
    idport: Started,
    first: string,
    next: string,
  ): Promise<{ first: number; next: number }> => {
    const browser = new Browser();
    const form = await passwordForm(browser, idport.origin);
    const attempt = async (ip: string): Promise<number> =>
      (
        await browser.request(form.action, {
          form: { ...form.fields, login: EMAIL, password: 'wrong' },
          headers: { 'x-real-ip': ip },
        })
      ).status;
    for (let i = 0; i < FAILURES_PER_IP; i++) assert.equal(await attempt(first), 401, `attempt ${i + 1}`);
    return { first: await attempt(first), next: await attempt(next) };
  };

  /** The client addresses in the log lines of password POSTs. */
  const loggedAddresses = (idport: Started): Set<unknown> =>
    new Set(
      idport
        .logs()
        .filter((line) => line.method === 'POST' && /\/login\?/.test(String(line.url)) && 'status' in line)
        .map((line) => line.remoteAddress),
    );

  it('limits and logs by the header from a trusted proxy', async () => {
    const idport = await start(
      configYaml(
        `web:\n  http: 127.0.0.1:0\n  clientRemoteIP:\n    header: X-Real-IP\n    trustedProxies: [127.0.0.0/8]\n${BRUTE_FORCE}`,
      ),
    );
    try {
      assert.deepEqual(await exhaustThenTry(idport, '203.0.113.1', '203.0.113.2'), { first: 429, next: 401 });
      assert.deepEqual(loggedAddresses(idport), new Set(['203.0.113.1', '203.0.113.2']));
    } finally {
      await idport.close();
    }
  });

  it('ignores the header from a peer that is not a trusted proxy', async () => {
    const idport = await start(
      configYaml(
        `web:\n  http: 127.0.0.1:0\n  clientRemoteIP:\n    header: X-Real-IP\n    trustedProxies: [10.0.0.0/8]\n${BRUTE_FORCE}`,
      ),
    );
    try {
      assert.deepEqual(await exhaustThenTry(idport, '203.0.113.1', '203.0.113.2'), { first: 429, next: 429 });
      assert.deepEqual(loggedAddresses(idport), new Set(['127.0.0.1']));
    } finally {
      await idport.close();
    }
  });
});

describe('a proxy without trustedProxies', () => {
  const warnings = (idport: Started): unknown[] =>
    idport
      .logs()
      .map((line) => line.msg)
      .filter((msg) => typeof msg === 'string' && msg.includes('X-Forwarded-For'));

  it('is warned about once, at the first request carrying X-Forwarded-For', async () => {
    const idport = await start(configYaml('web:\n  http: 127.0.0.1:0\n'));
    try {
      await fetch(`${idport.origin}/dex/healthz/live`);
      assert.deepEqual(warnings(idport), [], 'no warning without the header');
      for (let i = 0; i < 3; i++) {
        await fetch(`${idport.origin}/dex/healthz/live`, { headers: { 'x-forwarded-for': `198.51.100.${i}` } });
      }
      assert.equal(warnings(idport).length, 1);
    } finally {
      await idport.close();
    }
  });

  it('is not warned about when trustedProxies are set', async () => {
    const idport = await start(
      configYaml(
        'web:\n  http: 127.0.0.1:0\n  clientRemoteIP:\n    header: X-Forwarded-For\n    trustedProxies: [127.0.0.0/8]\n',
      ),
    );
    try {
      await fetch(`${idport.origin}/dex/healthz/live`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
      assert.deepEqual(warnings(idport), []);
    } finally {
      await idport.close();
    }
  });
});
