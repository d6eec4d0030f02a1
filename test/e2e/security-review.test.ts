/** Security review: token confusion, logout and session edges, and what reaches the logs, each proven over HTTP. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { mockCallback } from '../../connectors/mock/mock.js';
import { buildApp } from '../../src/app.js';
import { Browser, formsOf, loginThroughPages } from '../support/browser.js';
import {
  confidentialClient,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import { client, testProvider } from '../oauth/provider.js';
import {
  assertErrorPage,
  assertErrorRedirect,
  assertJsonError,
  assertTokenResponse,
  authUrl,
  CHALLENGE,
  codeRequest,
  credentialsOf,
  postToken,
  REDIRECT,
  redeemCode,
  refreshWith,
  responseOf,
  str,
  VERIFIER,
} from './helpers.js';

const LOGGED_OUT = 'http://127.0.0.1:5555/logged-out';
const PEER_LOGGED_OUT = 'http://127.0.0.1:5555/peer-logged-out';
const EXPIRED = 'This login request is invalid or has expired. Go back to the application and sign in again.';
const NOT_AN_ID_TOKEN = 'The logout request carries an id_token_hint that is not an ID token this provider issued.';

/** A back-channel logout receiver that records the `sid` of each logout_token POSTed to it. */
const startReceiver = async (): Promise<{ url: string; sids: string[]; close(): Promise<void> }> => {
  const sids: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      sids.push(String(decodeJwt(new URLSearchParams(body).get('logout_token') ?? '').sid));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel`,
    sids,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};

describe('security review', () => {
  let idport: TestIdport;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    receiver = await startReceiver();
    idport = await startIdport({
      clients: [
        confidentialClient('grafana', [REDIRECT], {
          postLogoutRedirectURIs: [LOGGED_OUT],
          backchannelLogoutURI: receiver.url,
        }),
        confidentialClient('argocd', [REDIRECT], { refreshTokenLifetime: 'session' }),
        // Trusts grafana to ask for tokens with it in the audience (Dex's trustedPeers).
        confidentialClient('peer', [REDIRECT], {
          trustedPeers: ['grafana'],
          postLogoutRedirectURIs: [PEER_LOGGED_OUT],
        }),
        publicClient('cli', [REDIRECT]),
      ],
      passwords: [demoUser, { ...demoUser, email: 'bob@example.com', userId: 'bob-id', username: 'bob' }],
    });
  });
  after(async () => {
    await idport.close();
    await receiver.close();
  });

  /** Logs the browser in at a client through the pages and redeems the code. */
  const loginAndRedeem = async (
    browser: Browser,
    clientId: string,
    extra: Record<string, string> = {},
    login = demoUser.email,
  ) => {
    const location = await loginThroughPages(browser, authUrl(idport, codeRequest(clientId, extra)), REDIRECT, {
      login,
      password: DEMO_PASSWORD,
    });
    const tokens = await redeemCode(idport, clientId, responseOf(location).get('code') ?? '');
    assertTokenResponse(tokens);
    return tokens.body;
  };

  const isLoggedIn = async (browser: Browser): Promise<boolean> => {
    const step = await browser.follow(authUrl(idport, codeRequest('grafana', { prompt: 'none' })), REDIRECT);
    return responseOf(step.location ?? '').get('code') !== null;
  };

  const logoutUrl = (params: Record<string, string>): string =>
    `${idport.issuer}/logout?${new URLSearchParams(params).toString()}`;

  describe('id_token_hint must be an ID token', () => {
    it('refuses an access token as id_token_hint at /logout: it proves nothing about the client, so no silent logout and no redirect', async () => {
      const browser = new Browser();
      const tokens = await loginAndRedeem(browser, 'grafana');
      // The access token carries the same sub and aud, and resource servers (and audience peers) hold it.
      const page = await browser.request(
        logoutUrl({ id_token_hint: str(tokens, 'access_token'), post_logout_redirect_uri: LOGGED_OUT }),
      );
      assertErrorPage(page, 400, NOT_AN_ID_TOKEN);
      assert.ok(await isLoggedIn(browser), 'still logged in');
    });

    it('refuses a back-channel logout token as id_token_hint at /logout', async () => {
      const browser = new Browser();
      const idToken = decodeJwt(str(await loginAndRedeem(browser, 'grafana'), 'id_token'));
      const iat = Math.floor(Date.now() / 1000);
      const logoutToken = await idport.provider.signer.sign(
        {
          iss: idport.issuer,
          aud: 'grafana',
          iat,
          exp: iat + 120,
          jti: 'j',
          sub: idToken.sub,
          sid: idToken.sid,
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        },
        { typ: 'logout+jwt' },
      );
      assertErrorPage(
        await browser.request(logoutUrl({ id_token_hint: logoutToken, post_logout_redirect_uri: LOGGED_OUT })),
        400,
        NOT_AN_ID_TOKEN,
      );
      assert.ok(await isLoggedIn(browser), 'still logged in');
    });

    it('refuses an access token as id_token_hint at /auth with invalid_request', async () => {
      const browser = new Browser();
      const tokens = await loginAndRedeem(browser, 'grafana');
      const step = await browser.follow(
        authUrl(idport, codeRequest('grafana', { prompt: 'none', id_token_hint: str(tokens, 'access_token') })),
        REDIRECT,
      );
      assertErrorRedirect(step.location ?? '', {
        error: 'invalid_request',
        description: 'id_token_hint is not an ID token this provider issued',
        state: 'the-state',
        issuer: idport.issuer,
      });
    });

    it('still accepts the ID token itself as id_token_hint at /logout', async () => {
      const browser = new Browser();
      const tokens = await loginAndRedeem(browser, 'grafana');
      const step = await browser.follow(
        logoutUrl({ id_token_hint: str(tokens, 'id_token'), post_logout_redirect_uri: LOGGED_OUT }),
        LOGGED_OUT,
      );
      assert.equal(step.location, LOGGED_OUT);
      assert.equal(await isLoggedIn(browser), false);
    });
  });

  it('refuses a client_id at /logout that is only an audience of the id_token_hint, not the client it was issued to', async () => {
    const browser = new Browser();
    const tokens = await loginAndRedeem(browser, 'grafana', { scope: 'openid audience:server:client_id:peer' });
    const claims = decodeJwt(str(tokens, 'id_token'));
    assert.deepEqual({ aud: claims.aud, azp: claims.azp }, { aud: ['peer', 'grafana'], azp: 'grafana' });
    // RP-Initiated Logout §2: client_id must be the client the ID token was issued to.
    const page = await browser.request(
      logoutUrl({
        id_token_hint: str(tokens, 'id_token'),
        client_id: 'peer',
        post_logout_redirect_uri: PEER_LOGGED_OUT,
      }),
    );
    assertErrorPage(page, 400, 'The client_id does not match the id_token_hint.');
    assert.ok(await isLoggedIn(browser), 'still logged in');
  });

  it('refuses to approve a pending request once the session it was logged in with has ended (logout on a shared computer)', async () => {
    const browser = new Browser();
    // The user logs in at argocd and stops at its approval page.
    let step = await browser.follow(authUrl(idport, codeRequest('argocd')), REDIRECT);
    const [password] = formsOf(step.page);
    assert.ok(password);
    step = await browser.submit(password, { login: demoUser.email, password: DEMO_PASSWORD }, REDIRECT);
    const [approval] = formsOf(step.page);
    assert.ok(approval && 'req' in approval.fields, 'the approval page');
    const approvalUrl = `${idport.issuer}/approval?req=${encodeURIComponent(approval.fields.req ?? '')}`;
    // They log out and walk away; the next person at the browser goes back in its history.
    const confirm = await browser.request(logoutUrl({}));
    const [logoutForm] = formsOf(confirm);
    assert.ok(logoutForm);
    await browser.submit(logoutForm, {}, LOGGED_OUT);
    assert.equal(await isLoggedIn(browser), false);
    assertErrorPage(await browser.request(approvalUrl), 400, EXPIRED);
    const approved = await browser.submit(approval, { approval: 'approve' }, REDIRECT);
    assert.equal(approved.location, undefined, 'no code for the logged-out user');
    assertErrorPage(approved.page, 400, EXPIRED);
  });

  it('ends the previous session properly when another user logs in in the same browser: back-channel logout and session-bound refresh tokens', async () => {
    const browser = new Browser();
    const admin = decodeJwt(str(await loginAndRedeem(browser, 'grafana'), 'id_token'));
    const offline = await loginAndRedeem(browser, 'argocd', { scope: 'openid offline_access' });
    const sessionRefresh = str(offline, 'refresh_token');
    // Bob logs in on the same browser: admin's session ends here, so it must end as a logout would.
    await loginAndRedeem(browser, 'grafana', { prompt: 'login' }, 'bob@example.com');
    for (let i = 0; i < 600 && !receiver.sids.includes(String(admin.sid)); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(receiver.sids.includes(String(admin.sid)), "grafana was told that admin's session ended");
    const refreshed = await refreshWith(idport, 'argocd', sessionRefresh);
    assert.deepEqual(
      { status: refreshed.status, error: refreshed.body.error },
      { status: 400, error: 'invalid_grant' },
    );
  });

  it('does not let anyone who reads an access token revoke the refresh-token family it came from', async () => {
    // A public client (a CLI): a refresh request needs only its client_id.
    const location = await loginThroughPages(
      new Browser(),
      authUrl(
        idport,
        codeRequest('cli', {
          scope: 'openid offline_access',
          code_challenge: CHALLENGE,
          code_challenge_method: 'S256',
        }),
      ),
      REDIRECT,
    );
    const tokens = await postToken(idport, {
      grant_type: 'authorization_code',
      code: responseOf(location).get('code') ?? '',
      redirect_uri: REDIRECT,
      client_id: 'cli',
      code_verifier: VERIFIER,
    });
    assertTokenResponse(tokens);
    const refreshed = await postToken(idport, {
      grant_type: 'refresh_token',
      refresh_token: str(tokens.body, 'refresh_token'),
      client_id: 'cli',
    });
    assertTokenResponse(refreshed);
    // The access token is read by every API the client calls; its grant reference must not be a refresh-token handle.
    const gid = String(decodeJwt(str(refreshed.body, 'access_token')).gid);
    assert.match(gid, /^r:/);
    const forged = await postToken(idport, {
      grant_type: 'refresh_token',
      refresh_token: `${gid.slice(2)}.${'A'.repeat(43)}`,
      client_id: 'cli',
    });
    assertJsonError(forged, 400, 'invalid_grant', 'invalid refresh token');
    assertTokenResponse(
      await postToken(idport, {
        grant_type: 'refresh_token',
        refresh_token: str(refreshed.body, 'refresh_token'),
        client_id: 'cli',
      }),
    );
  });

  it('keeps consent and session-bound refresh tokens when the same user logs in again (prompt=login)', async () => {
    const browser = new Browser();
    const offline = await loginAndRedeem(browser, 'argocd', { scope: 'openid offline_access' });
    await loginAndRedeem(browser, 'argocd', { prompt: 'login' });
    assertTokenResponse(await refreshWith(idport, 'argocd', str(offline, 'refresh_token')));
  });
});

describe('security review: chooser back link', () => {
  let idport: TestIdport;
  before(async () => {
    const connector = await mockCallback.open(
      'mock',
      {},
      { log: pino({ level: 'silent' }), fetch, now: () => new Date() },
    );
    idport = await startIdport({
      clients: [confidentialClient('web', [REDIRECT])],
      connectors: [{ id: 'mock', type: 'mockCallback', name: 'Mock', connector }],
    });
  });
  after(async () => idport.close());

  it('does not add a redirect_uri the client left out, so the code is still redeemed without one (RFC 6749 §4.1.3)', async () => {
    const browser = new Browser();
    const params = codeRequest('web', { connector_id: 'local' });
    delete params.redirect_uri;
    const { page } = await browser.follow(authUrl(idport, params), REDIRECT);
    const back = /<a href="([^"]+)">Choose another login method<\/a>/.exec(page.body)?.[1] ?? '';
    assert.ok(back !== '', 'a back link');
    const backUrl = new URL(back.replace(/&amp;/g, '&'), page.url);
    assert.equal(backUrl.searchParams.get('redirect_uri'), null);
    const chooser = await browser.follow(backUrl.href, REDIRECT);
    const local = /href="([^"]*\/auth\/local\?[^"]+)"/.exec(chooser.page.body)?.[1] ?? '';
    const location = await loginThroughPages(
      browser,
      new URL(local.replace(/&amp;/g, '&'), chooser.page.url).href,
      REDIRECT,
    );
    const tokens = await postToken(
      idport,
      { grant_type: 'authorization_code', code: responseOf(location).get('code') ?? '' },
      credentialsOf('web'),
    );
    assertTokenResponse(tokens);
  });
});

describe('security review: logs', () => {
  it('keeps codes, ID token hints and login hints out of the request log lines', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const provider = await testProvider([client('web')]);
    const app = await buildApp({
      provider: { ...provider, log: pino({ level: 'info' }, sink) },
      branding: { issuerName: 'idport test', logoUrl: '', theme: 'light' },
    });
    try {
      await app.inject({ url: '/dex/callback?code=UPSTREAM-CODE-SECRET&state=abc' });
      await app.inject({ url: '/dex/logout?id_token_hint=eyJ.HINT-SECRET.sig&state=bye' });
      await app.inject({
        url: '/dex/auth?client_id=web&response_type=code&scope=openid&login_hint=jane%40example.com',
      });
      const log = lines.join('');
      assert.match(log, /"msg":"GET \/dex\/callback\?code=%5BRedacted%5D&state=abc \d+"/);
      assert.match(log, /\/dex\/callback\?code=%5BRedacted%5D&state=abc/, 'the path and harmless parameters stay');
      for (const secret of ['UPSTREAM-CODE-SECRET', 'HINT-SECRET', 'jane'])
        assert.ok(!log.includes(secret), `${secret} in ${log}`);
    } finally {
      await app.close();
    }
  });
});
