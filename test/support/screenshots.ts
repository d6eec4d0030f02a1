/**
 * Screenshots of every page a person sees, for looking at before a change to the pages lands: idport's pages (light
 * and dark theme) and the example app (light and dark colour scheme), each on a desktop and a phone viewport.
 *
 *   node --import tsx test/support/screenshots.ts [OUTPUT DIR]     # default .tmp/screenshots
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, startExample, type ExampleSetup } from './example-app.js';

const out = process.argv[2] ?? join('.tmp', 'screenshots');
const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;

const shoot = async (page: Page, name: string): Promise<void> => {
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
};

/** config.example.yaml plus a second connector (for the chooser), the device flow, and the theme. */
const editFor =
  (theme: 'light' | 'dark') =>
  (yaml: string): string =>
    yaml
      .replace('  # theme: light ', `  theme: ${theme} `)
      .replace(/( {6}- http:\/\/localhost:\d+\/callback\n)/, '$1      - /device/callback\n');

const CHOOSER = 'connectors:\n- type: mockCallback\n  id: mock\n  name: Example (mock)\n';

const logIn = async (page: Page): Promise<void> => {
  await page.fill('#login', 'admin@example.com');
  await page.fill('#password', 'password');
  await page.click('button:has-text("Log in")');
};

const idportPages = async (page: Page, setup: ExampleSetup, prefix: string): Promise<void> => {
  const { issuer, appUrl } = setup;
  await page.goto(issuer);
  await shoot(page, `${prefix}-landing`);
  await page.goto(`${issuer}/no-such-page`);
  await shoot(page, `${prefix}-404`);
  await page.goto(`${issuer}/auth?client_id=nobody&redirect_uri=x&response_type=code&scope=openid`);
  await shoot(page, `${prefix}-error-unknown-client`);
  // The example app's login: chooser, password form (also wrong), approval with "Signed in as".
  await page.goto(`${appUrl}/`);
  await shoot(page, `${prefix}-app-home`);
  await page.click('button:has-text("Log in")');
  await shoot(page, `${prefix}-login-chooser`);
  await page.click('a:has-text("Log in with Email")');
  await shoot(page, `${prefix}-password`);
  await page.fill('#login', 'admin@example.com');
  await page.fill('#password', 'wrong');
  await page.click('button:has-text("Log in")');
  await shoot(page, `${prefix}-password-invalid`);
  await logIn(page);
  await shoot(page, `${prefix}-approval`);
  await page.click('button[value=approve]');
  await page.waitForSelector('#claims');
  await shoot(page, `${prefix}-app-claims`);
  // The device flow in the same browser session: code entry, approval with the code, the result.
  const device = (await (
    await fetch(`${issuer}/device/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=example-app&client_secret=ZXhhbXBsZS1hcHAtc2VjcmV0&scope=openid+email',
    })
  ).json()) as { verification_uri_complete: string };
  await page.goto(device.verification_uri_complete);
  await shoot(page, `${prefix}-device-code`);
  await page.click('button:has-text("Continue")');
  await shoot(page, `${prefix}-device-approval`);
  await page.click('button[value=approve]');
  await shoot(page, `${prefix}-device-done`);
  // Logout confirmation (no id_token_hint) and the logged-out page with its way back.
  await page.goto(`${issuer}/logout?client_id=example-app`);
  await shoot(page, `${prefix}-logout-confirm`);
  await page.click('button:has-text("Log out")');
  await shoot(page, `${prefix}-logged-out`);
  await page.goto(`${appUrl}/?state=logged-out`);
  await shoot(page, `${prefix}-app-logged-out`);
};

/** The 429 page: one more wrong password than the per-minute budget. */
const rateLimited = async (page: Page, setup: ExampleSetup, prefix: string): Promise<void> => {
  await page.goto(`${setup.appUrl}/`);
  await page.click('button:has-text("Log in")');
  await page.click('a:has-text("Log in with Email")');
  for (let i = 0; i < 25 && !(await page.isVisible('text=Too many attempts')); i++) {
    await page.fill('#login', 'someone@example.com');
    await page.fill('#password', 'wrong');
    await page.click('button:has-text("Log in")');
  }
  await shoot(page, `${prefix}-429`);
};

const run = async (browser: Browser): Promise<void> => {
  for (const theme of ['light', 'dark'] as const) {
    const setup = await startExample(CHOOSER, editFor(theme));
    try {
      for (const [name, options] of Object.entries(VIEWPORTS)) {
        const context = await browser.newContext({ ...options, colorScheme: theme });
        const page = await context.newPage();
        await idportPages(page, setup, `${theme}-${name}`);
        await context.close();
      }
      // Last: it spends this address's password budget.
      for (const [name, options] of Object.entries(VIEWPORTS)) {
        const context = await browser.newContext({ ...options, colorScheme: theme });
        await rateLimited(await context.newPage(), setup, `${theme}-${name}`);
        await context.close();
      }
    } finally {
      await setup.close();
    }
  }
};

mkdirSync(out, { recursive: true });
const browser = await launchChromium();
try {
  await run(browser);
} finally {
  await browser.close();
}
console.log(`screenshots in ${out}`);
