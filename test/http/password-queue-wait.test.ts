/**
 * A password check that waits too long for a bcrypt slot (issue 10, item 2) is refused, never left to the socket's
 * idle timeout: 503 temporarily_unavailable at the password grant, an error page with a next step on the password
 * page and in a device login. The gate here has one slot held by a blocked task and a timer the test fires, so
 * "waited past the bound" and "served within it" are decided by the test, not by the clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { gatedCompare, WorkGate } from '../../connectors/local/bcrypt.js';
import { openLocal } from '../../connectors/local/local.js';
import { openMemory } from '../../storage/memory/memory.js';
import { Browser, formsOf, type Page } from '../support/browser.js';
import {
  confidentialClient,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import { testFetch } from '../support/in-process.js';
import { ManualTimers } from '../support/manual-timers.js';
import { DEFAULT_BRUTE_FORCE } from '../support/settings.js';
import {
  assertErrorPage,
  assertJsonError,
  authUrl,
  codeRequest,
  credentialsOf,
  postToken,
  REDIRECT,
} from '../e2e/helpers.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The browser never leaves idport in the device flow; nothing starts with this. */
const NOWHERE = 'http://nowhere.invalid/';
const BUSY = 'Too many logins at once. Try again in a moment.';
const UNKNOWN = 'nobody@example.com';

describe('a password check waiting past the queue bound', () => {
  const timers = new ManualTimers();
  const gate = new WorkGate({ concurrency: 1, queueLimit: 8, maxWaitMs: 10_000, startTimer: timers.start });
  let idport: TestIdport;

  before(async () => {
    const storage = openMemory();
    const log = pino({ level: 'silent' });
    const local = openLocal(storage.passwords, { log, fetch, now: () => new Date() }, { compare: gatedCompare(gate) });
    idport = await startIdport({
      inProcess: true,
      storage,
      withLocal: false,
      connectors: [{ id: 'local', type: 'local', name: 'Email', connector: local }],
      clients: [confidentialClient('web', [REDIRECT]), publicClient('kubectl', [])],
      settings: {
        grantTypes: ['authorization_code', 'refresh_token', 'password', DEVICE_GRANT],
        passwordConnector: 'local',
        skipApprovalScreen: true,
        // One failure would lock the account and exhaust the address: a refusal that counted would show at once.
        bruteForce: { ...DEFAULT_BRUTE_FORCE, maxFailures: 1, maxFailuresPerIP: 1 },
      },
    });
  });
  after(async () => idport.close());

  /** Occupies the gate's one slot until the returned function is called. */
  const holdSlot = (): (() => Promise<void>) => {
    let release = (): void => undefined;
    const held = gate.run(() => new Promise<void>((resolve) => (release = resolve)));
    return async () => {
      release();
      await held;
    };
  };

  /** Sends `request` while the slot is held and lets its wait run past the bound. */
  const pastTheBound = async <T>(request: () => Promise<T>): Promise<T> => {
    const release = holdSlot();
    try {
      const answer = request();
      await timers.whenArmed();
      assert.equal(timers.fireAll(), 1, 'one password check was waiting');
      return await answer;
    } finally {
      await release();
    }
  };

  /** Sends `request` while the slot is held and frees the slot before the bound. */
  const withinTheBound = async <T>(request: () => Promise<T>): Promise<T> => {
    const release = holdSlot();
    const answer = request();
    await timers.whenArmed();
    await release();
    const result = await answer;
    assert.equal(timers.fireAll(), 0, 'the wait ended before its bound');
    return result;
  };

  const passwordGrant = (username: string, password: string) =>
    postToken(idport, { grant_type: 'password', username, password, scope: 'openid' }, credentialsOf('web'));

  /** The password form of a fresh authorization request; posting it logs in. */
  const loginForm = async (browser: Browser) => {
    const first = await browser.follow(authUrl(idport, codeRequest('web')), REDIRECT);
    const [form] = formsOf(first.page);
    assert.ok(form && 'login' in form.fields, `a login form: ${first.page.body.slice(0, 300)}`);
    return form;
  };

  /** A device code, entered in a browser, up to the password form of the device login. */
  const deviceLoginForm = async (browser: Browser) => {
    const response = await testFetch(`${idport.issuer}/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'kubectl', scope: 'openid' }).toString(),
    });
    const { verification_uri_complete: complete } = (await response.json()) as { verification_uri_complete: string };
    const entry = await browser.follow(complete, NOWHERE);
    const [codeForm] = formsOf(entry.page);
    assert.ok(codeForm, 'the code form');
    const login = (await browser.submit(codeForm, {}, NOWHERE)).page;
    const [form] = formsOf(login);
    assert.ok(form && 'login' in form.fields, `a login form: ${login.body.slice(0, 300)}`);
    return form;
  };

  const assertBusyPage = (page: Page): void => {
    assertErrorPage(page, 503, BUSY);
    assert.match(page.body, /We could not log you in/);
    assert.match(page.body, /Go back to the application and try again\./);
  };

  it('answers the password grant 503 temporarily_unavailable, the same for an existing and an unknown account', async () => {
    for (const username of [demoUser.email, UNKNOWN]) {
      const refused = await pastTheBound(() => passwordGrant(username, DEMO_PASSWORD));
      assertJsonError(refused, 503, 'temporarily_unavailable', 'the login service is unavailable; try again later');
      assert.equal(refused.headers.get('cache-control'), 'no-store');
    }
    // Neither refusal counted: with one failure allowed per account and per address, the right password works.
    assert.equal((await passwordGrant(demoUser.email, DEMO_PASSWORD)).status, 200);
  });

  it('serves the password grant when the slot comes within the bound', async () => {
    const served = await withinTheBound(() => passwordGrant(demoUser.email, DEMO_PASSWORD));
    assert.equal(served.status, 200);
    assert.equal(typeof served.body.access_token, 'string');
  });

  it('shows the password page an error page with a next step, the same for an existing and an unknown account', async () => {
    const browser = new Browser();
    const bodies: string[] = [];
    for (const login of [demoUser.email, UNKNOWN]) {
      const form = await loginForm(browser);
      const { page } = await pastTheBound(() => browser.submit(form, { login, password: DEMO_PASSWORD }, REDIRECT));
      assertBusyPage(page);
      bodies.push(page.body.replace(/[0-9a-f-]{36}/g, 'request-id'));
    }
    assert.equal(bodies[0], bodies[1], 'the page does not tell whether the account exists');
    const form = await loginForm(browser);
    const done = await browser.submit(form, { login: demoUser.email, password: DEMO_PASSWORD }, REDIRECT);
    assert.ok(done.location?.startsWith(REDIRECT), 'the refusals did not count: the right password logs in');
  });

  it('logs in through the password page when the slot comes within the bound', async () => {
    const browser = new Browser();
    const form = await loginForm(browser);
    const done = await withinTheBound(() =>
      browser.submit(form, { login: demoUser.email, password: DEMO_PASSWORD }, REDIRECT),
    );
    assert.ok(done.location?.startsWith(`${REDIRECT}?code=`), `redirected with a code, not ${done.location}`);
  });

  it('shows a device login the same error page, and the refusal does not count', async () => {
    const browser = new Browser();
    const form = await deviceLoginForm(browser);
    const { page } = await pastTheBound(() =>
      browser.submit(form, { login: demoUser.email, password: DEMO_PASSWORD }, NOWHERE),
    );
    assertBusyPage(page);
    assert.equal((await passwordGrant(demoUser.email, DEMO_PASSWORD)).status, 200);
  });

  it('takes a device login on to the approval page when the slot comes within the bound', async () => {
    const browser = new Browser();
    const form = await deviceLoginForm(browser);
    const { page } = await withinTheBound(() =>
      browser.submit(form, { login: demoUser.email, password: DEMO_PASSWORD }, NOWHERE),
    );
    assert.equal(page.status, 200, page.body.slice(0, 300));
    // A device login always ends on the approval page, which shows the device code to check.
    assert.match(page.body, /<h1>Grant access<\/h1>/);
    assert.match(page.body, /Signed in as <strong>admin@example\.com<\/strong>/);
    assert.ok(
      formsOf(page).some((f) => 'req' in f.fields && f.action.endsWith('/dex/approval')),
      'the approval form',
    );
  });

  it('still counts a wrong password, so the budgets above were live', async () => {
    assert.equal((await passwordGrant(demoUser.email, 'wrong')).status, 400);
    const locked = await passwordGrant(demoUser.email, DEMO_PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error, 'temporarily_unavailable');
  });
});
