/**
 * Shared setup of the logout and browser-session route tests: an in-process idport with a back-channel logout
 * receiver, and the browser steps both files take (log in and redeem, probe the session with prompt=none).
 */
import { startBackchannelReceiver, type BackchannelReceiver } from '../support/backchannel-receiver.js';
import { loginThroughPages, type Browser } from '../support/browser.js';
import {
  confidentialClient,
  DEMO_PASSWORD,
  demoUser,
  publicClient,
  startIdport,
  type TestIdport,
} from '../support/idport.js';
import { assertTokenResponse, authUrl, codeRequest, REDIRECT, redeemCode, responseOf } from '../e2e/helpers.js';

export const LOGGED_OUT = 'http://127.0.0.1:5555/logged-out';
export const PEER_LOGGED_OUT = 'http://127.0.0.1:5555/peer-logged-out';

/** An idport with the clients these tests use, and the browser steps they share. */
export interface SessionsIdport {
  readonly idport: TestIdport;
  readonly receiver: BackchannelReceiver;
  /** Logs the browser in at a client through the pages and redeems the code; the token response body. */
  loginAndRedeem(
    browser: Browser,
    clientId: string,
    extra?: Record<string, string>,
    login?: string,
  ): Promise<Record<string, unknown>>;
  /** Whether the browser's session still answers prompt=none for grafana with a code. */
  isLoggedIn(browser: Browser): Promise<boolean>;
  logoutUrl(params: Record<string, string>): string;
  close(): Promise<void>;
}

export const startSessionsIdport = async (): Promise<SessionsIdport> => {
  const receiver = await startBackchannelReceiver();
  const idport = await startIdport({
    inProcess: true,
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
  return {
    idport,
    receiver,
    loginAndRedeem: async (browser, clientId, extra = {}, login = demoUser.email) => {
      const location = await loginThroughPages(browser, authUrl(idport, codeRequest(clientId, extra)), REDIRECT, {
        login,
        password: DEMO_PASSWORD,
      });
      const tokens = await redeemCode(idport, clientId, responseOf(location).get('code') ?? '');
      assertTokenResponse(tokens);
      return tokens.body;
    },
    isLoggedIn: async (browser) => {
      const step = await browser.follow(authUrl(idport, codeRequest('grafana', { prompt: 'none' })), REDIRECT);
      return responseOf(step.location ?? '').get('code') !== null;
    },
    logoutUrl: (params) => `${idport.issuer}/logout?${new URLSearchParams(params).toString()}`,
    close: async () => {
      await idport.close();
      await receiver.close();
    },
  };
};
