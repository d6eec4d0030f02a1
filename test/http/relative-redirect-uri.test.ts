/**
 * Relative redirect URIs (issue 10, item 9) through buildApp() + inject: a client registered with Dex's relative
 * `/device/callback` (as the README documents for device clients) gets a redirect from /auth for a login, for a
 * redirected error and for prompt=none, never a 500.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/app.js';
import { client, testProvider } from '../oauth/provider.js';

describe('relative redirect URIs at /auth', () => {
  it('answers a login, a refused scope and prompt=none with redirects, never a 500', async () => {
    const provider = await testProvider([client('dev', { redirectURIs: ['/device/callback'] })]);
    const app = await buildApp({ provider, branding: { issuerName: 'idport test', logoUrl: '', theme: 'light' } });
    try {
      const base = 'client_id=dev&response_type=code&state=s';
      const login = await app.inject({ url: `/dex/auth?${base}&scope=openid` });
      assert.equal(login.statusCode, 303);
      assert.match(String(login.headers.location), /^\/dex\/auth\/test\?req=/);
      for (const query of [`${base}&scope=openid%20bogus`, `${base}&scope=openid&prompt=none`]) {
        const refused = await app.inject({ url: `/dex/auth?${query}&redirect_uri=%2Fdevice%2Fcallback` });
        assert.equal(refused.statusCode, 303, query);
        assert.match(String(refused.headers.location), /\/device\/callback\?error=(invalid_scope|login_required)&/);
        assert.match(String(refused.headers.location), /[?&]state=s(&|$)/);
      }
    } finally {
      await app.close();
    }
  });
});
