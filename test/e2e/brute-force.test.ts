/** bruteForce: failed password attempts per account (locked after maxFailures) and per client IP, one budget for every route. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/deps.js';
import { Browser, formsOf } from '../support/browser.js';
import { confidentialClient, DEMO_PASSWORD, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import { DEFAULT_BRUTE_FORCE } from '../support/settings.js';
import { authUrl, codeRequest, credentialsOf, postToken, REDIRECT } from './helpers.js';

const SETTINGS = {
  grantTypes: ['authorization_code', 'refresh_token', 'password'],
  passwordConnector: 'local',
};

/** A fresh login form; returns a function posting one attempt to it. */
const loginForm = async (idport: TestIdport) => {
  const browser = new Browser();
  const first = await browser.follow(authUrl(idport, codeRequest('web')), REDIRECT);
  const [form] = formsOf(first.page);
  assert.ok(form);
  return (login: string, password: string) =>
    browser.request(form.action, { form: { ...form.fields, login, password } });
};

const passwordGrant = (idport: TestIdport, username: string, password: string) =>
  postToken(idport, { grant_type: 'password', username, password, scope: 'openid' }, credentialsOf('web'));

describe('brute-force protection per account', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], settings: SETTINGS });
  });
  after(async () => idport.close());

  it('locks an account after maxFailures, refusing even the right password, with a page saying when to retry', async () => {
    const attempt = await loginForm(idport);
    for (let i = 0; i < DEFAULT_BRUTE_FORCE.maxFailures; i++) {
      assert.equal((await attempt(demoUser.email, `wrong-${i}`)).status, 401, `attempt ${i + 1} is checked`);
    }
    const locked = await attempt(demoUser.email, DEMO_PASSWORD);
    assert.equal(locked.status, 429);
    assert.match(locked.body, /Too many failed attempts\. Try again in \d+ (seconds|minutes)\./);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    assert.equal(locked.headers.get('location'), null, 'no code for a locked account');
    // The same budget covers the password grant, and the email's case does not give a new one.
    const grant = await passwordGrant(idport, demoUser.email.toUpperCase(), DEMO_PASSWORD);
    assert.equal(grant.status, 429);
    assert.equal(grant.body.error, 'temporarily_unavailable');
    assert.ok(Number(grant.headers.get('retry-after')) > 0);
    assert.equal(grant.body.access_token, undefined);
  });

  it('counts failures for accounts that do not exist, and locks only that account', async () => {
    const attempt = await loginForm(idport);
    for (let i = 0; i < DEFAULT_BRUTE_FORCE.maxFailures; i++) {
      assert.equal((await attempt('nobody@example.com', 'x')).status, 401);
    }
    assert.equal((await attempt('nobody@example.com', 'x')).status, 429);
    // Another account from the same address is unaffected.
    assert.equal((await attempt('someone@example.com', 'x')).status, 401);
  });
});

describe('brute-force protection: successes', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], settings: SETTINGS });
  });
  after(async () => idport.close());

  it('clears the account count on success and never counts successes', async () => {
    const below = DEFAULT_BRUTE_FORCE.maxFailures - 1;
    for (let i = 0; i < below; i++) assert.equal((await passwordGrant(idport, demoUser.email, 'wrong')).status, 400);
    assert.equal((await passwordGrant(idport, demoUser.email, DEMO_PASSWORD)).status, 200);
    for (let i = 0; i < below; i++) assert.equal((await passwordGrant(idport, demoUser.email, 'wrong')).status, 400);
    // 20 more successes than any budget: none is refused.
    for (let i = 0; i < 20; i++) assert.equal((await passwordGrant(idport, demoUser.email, DEMO_PASSWORD)).status, 200);
  });
});

describe('brute-force protection per client IP', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { ...SETTINGS, bruteForce: { ...DEFAULT_BRUTE_FORCE, maxFailures: 0, maxFailuresPerIP: 4 } },
    });
  });
  after(async () => idport.close());

  it('answers 429 with Retry-After on every password route once the address used its failures', async () => {
    const attempt = await loginForm(idport);
    for (let i = 0; i < 2; i++) assert.equal((await attempt(`user${i}@example.com`, 'x')).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await passwordGrant(idport, `other${i}@example.com`, 'x')).status, 400);
    const page = await attempt(demoUser.email, DEMO_PASSWORD);
    assert.equal(page.status, 429);
    assert.ok(Number(page.headers.get('retry-after')) > 0);
    const grant = await passwordGrant(idport, demoUser.email, DEMO_PASSWORD);
    assert.equal(grant.status, 429);
    assert.ok(Number(grant.headers.get('retry-after')) > 0);
  });
});

describe('brute-force protection off for accounts', () => {
  it('maxFailures: 0 never locks an account', async () => {
    const idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      settings: { ...SETTINGS, bruteForce: { ...DEFAULT_BRUTE_FORCE, maxFailures: 0 } },
    });
    try {
      for (let i = 0; i < 8; i++) assert.equal((await passwordGrant(idport, demoUser.email, 'wrong')).status, 400);
      assert.equal((await passwordGrant(idport, demoUser.email, DEMO_PASSWORD)).status, 200);
    } finally {
      await idport.close();
    }
  });
});

describe('brute-force protection: the lockout ends', () => {
  it('accepts the right password once the lockout is over, and the count starts afresh', async () => {
    const clock = new ManualClock(Date.now());
    const idport = await startIdport({ clients: [confidentialClient('web', [REDIRECT])], settings: SETTINGS, clock });
    try {
      for (let i = 0; i < DEFAULT_BRUTE_FORCE.maxFailures; i++) {
        assert.equal((await passwordGrant(idport, demoUser.email, 'wrong')).status, 400);
      }
      assert.equal((await passwordGrant(idport, demoUser.email, DEMO_PASSWORD)).status, 429);
      clock.advance(DEFAULT_BRUTE_FORCE.lockoutMs - 1000);
      assert.equal((await passwordGrant(idport, demoUser.email, DEMO_PASSWORD)).status, 429, 'still locked');
      clock.advance(1000);
      // A fresh count: one failure does not lock again, and the right password works.
      assert.equal((await passwordGrant(idport, demoUser.email, 'wrong')).status, 400);
      assert.equal((await passwordGrant(idport, demoUser.email, DEMO_PASSWORD)).status, 200);
    } finally {
      await idport.close();
    }
  });
});
