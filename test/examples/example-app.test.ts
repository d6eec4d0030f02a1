/**
 * The README's first hour: idport with config.example.yaml, the example app, and a person in a browser (headless
 * Chromium) logging in, reading the claims, refreshing the tokens and logging out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, startExample, type ExampleSetup } from '../support/example-app.js';

describe('example app in Chromium', () => {
  let setup: ExampleSetup;
  let browser: Browser;
  before(async () => {
    setup = await startExample();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await setup?.close();
  });

  it('logs in with PKCE, shows the claims, refreshes the tokens and logs out at idport', async () => {
    const page = await browser.newPage();
    await page.goto(`${setup.appUrl}/`);
    assert.equal(await page.inputValue('#scope'), 'openid email profile groups offline_access');
    await page.click('button:has-text("Log in")');

    // idport's password page (the only connector), then approval naming who is signed in.
    assert.ok(page.url().startsWith(`${setup.issuer}/auth/local/login`), page.url());
    const authorize = new URL(page.url());
    assert.ok(authorize.searchParams.has('state'));
    await page.fill('#login', 'admin@example.com');
    await page.fill('#password', 'password');
    await page.click('button:has-text("Log in")');
    assert.match((await page.textContent('.signed-in')) ?? '', /Signed in as admin@example\.com/);
    await page.click('button[value=approve]');

    // Back at the app: the claims of a verified ID token, and both tokens.
    await page.waitForSelector('#claims');
    assert.equal(await page.textContent('#who'), 'admin@example.com');
    const claims = JSON.parse((await page.textContent('#claims')) ?? '{}') as Record<string, unknown>;
    assert.equal(claims.iss, setup.issuer);
    assert.equal(claims.aud, 'example-app');
    assert.equal(claims.email, 'admin@example.com');
    assert.equal(typeof claims.nonce, 'string');
    const accessToken = await page.textContent('#access-token');
    const refreshToken = await page.textContent('#refresh-token');
    assert.ok(accessToken && refreshToken);

    // Refresh: new tokens (idport rotates the refresh token), the same user.
    await page.click('#refresh');
    await page.waitForSelector('#refreshed-at');
    assert.notEqual(await page.textContent('#refresh-token'), refreshToken);
    assert.notEqual(await page.textContent('#access-token'), accessToken);
    assert.equal(await page.textContent('#who'), 'admin@example.com');

    // RP-initiated logout: the id_token_hint proves the app asks, so idport ends the session and comes back.
    await page.click('#logout');
    await page.waitForSelector('text=You have logged out');
    assert.equal(new URL(page.url()).origin, setup.appUrl);
    // The idport session is gone: logging in again asks for the password.
    await page.goto(`${setup.appUrl}/`);
    await page.click('button:has-text("Log in")');
    assert.ok(page.url().startsWith(`${setup.issuer}/auth/local/login`), page.url());
    await page.close();
  });

  it('shows the error idport sends back for a login without the openid scope', async () => {
    const page = await browser.newPage();
    await page.goto(`${setup.appUrl}/`);
    await page.fill('#scope', 'email');
    await page.click('button:has-text("Log in")');
    // Without openid, idport answers the client with invalid_scope, and the app says so.
    await page.waitForSelector('h1');
    assert.match((await page.textContent('h1')) ?? '', /The login was refused: invalid_scope/);
    await page.close();
  });
});
