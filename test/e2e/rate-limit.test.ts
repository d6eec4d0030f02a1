/** Password guessing is bounded: each client IP gets a fixed number of password attempts per minute. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD_ATTEMPTS_PER_MINUTE } from '../../src/http/rate-limit.js';
import { Browser, formsOf } from '../support/browser.js';
import { confidentialClient, DEMO_PASSWORD, demoUser, startIdport, type TestIdport } from '../support/idport.js';
import { authUrl, codeRequest, REDIRECT } from './helpers.js';

describe('password login rate limit', () => {
  let idport: TestIdport;
  before(async () => {
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      passwordAttemptsPerMinute: PASSWORD_ATTEMPTS_PER_MINUTE,
    });
  });
  after(async () => idport.close());

  it('answers attempts past the limit with a 429 page and Retry-After, even with the right password', async () => {
    const browser = new Browser();
    const first = await browser.follow(authUrl(idport, codeRequest('web')), REDIRECT);
    const [form] = formsOf(first.page);
    assert.ok(form);
    for (let i = 0; i < PASSWORD_ATTEMPTS_PER_MINUTE; i++) {
      const attempt = await browser.request(form.action, {
        form: { ...form.fields, login: demoUser.email, password: `wrong-${i}` },
      });
      assert.equal(attempt.status, 401, `attempt ${i + 1} is still checked`);
    }
    const limited = await browser.request(form.action, {
      form: { ...form.fields, login: demoUser.email, password: DEMO_PASSWORD },
    });
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('content-type') ?? '', /text\/html/);
    assert.match(limited.body, /Too many attempts\. Wait \d+ seconds and try again\./);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(limited.headers.get('location'), null, 'no code for a rate-limited attempt');
  });
});
