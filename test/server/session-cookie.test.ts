/** `sessions.cookieEncryptionKey` (Dex master): the session cookie sealed with AES-GCM under the configured key. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { openCookie, sealCookie } from '../../src/oauth/session/cookie-seal.js';
import { Browser } from '../support/browser.js';
import {
  authorizationUrl,
  configYaml,
  passwordForm,
  EMAIL,
  PASSWORD,
  REDIRECT,
  start,
  type Started,
} from './support.js';

const KEY = '0123456789abcdef0123456789abcdef'; // 32 bytes: AES-256

describe('sessions.cookieEncryptionKey', () => {
  let idport: Started;
  before(async () => {
    idport = await start(
      configYaml(undefined, `sessions: {cookieEncryptionKey: "${KEY}"}\noauth2: {skipApprovalScreen: true}\n`),
    );
  });
  after(() => idport.close());

  const silently = async (browser: Browser): Promise<string> => {
    const page = await browser.request(`${authorizationUrl(idport.origin)}&prompt=none`);
    const location = new URL(page.headers.get('location') ?? '', idport.origin);
    return location.searchParams.has('code') ? 'code' : (location.searchParams.get('error') ?? `status ${page.status}`);
  };

  it('seals the cookie, which still logs the user in; an altered one does not', async () => {
    const browser = new Browser();
    const form = await passwordForm(browser, idport.origin);
    await browser.submit(form, { login: EMAIL, password: PASSWORD }, REDIRECT);
    const cookie = browser.cookie('dex_session') ?? '';
    assert.doesNotMatch(cookie, /\./, 'no readable id.secret in the cookie');
    const plain = openCookie(Buffer.from(KEY), cookie);
    assert.match(plain ?? '', /^[\w-]+\.[\w-]+$/);
    assert.equal(await silently(browser), 'code');
    const altered = `${cookie.slice(0, -2)}${cookie.endsWith('AA') ? 'BB' : 'AA'}`;
    browser.setCookie('dex_session', altered, '/dex');
    assert.equal(await silently(browser), 'login_required');
    // The plain id.secret form is refused too once cookies are sealed.
    browser.setCookie('dex_session', plain ?? '', '/dex');
    assert.equal(await silently(browser), 'login_required');
  });

  it('refuses a cookie sealed under another key', () => {
    const sealed = sealCookie(Buffer.from(KEY), Buffer.alloc(12, 7), 'id.secret');
    assert.equal(openCookie(Buffer.from(KEY), sealed), 'id.secret');
    assert.equal(openCookie(Buffer.from('fedcba9876543210fedcba9876543210'), sealed), undefined);
  });

  it('takes a 16, 24 or 32 byte key, as Dex, and refuses another length', () => {
    for (const key of ['0123456789abcdef', '0123456789abcdef01234567', KEY])
      loadConfig(configYaml(undefined, `sessions: {cookieEncryptionKey: "${key}"}\n`), 'c.yaml', {
        env: {},
        connectorSchemas: {},
      });
    assert.throws(
      () =>
        loadConfig(configYaml(undefined, 'sessions: {cookieEncryptionKey: "too-short"}\n'), 'c.yaml', {
          env: {},
          connectorSchemas: {},
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /sessions\.cookieEncryptionKey: must be 16, 24 or 32 bytes \(AES-128\/192\/256\), got 9/.test(
          err.issues[0] ?? '',
        ),
    );
  });
});
