// idport's example application (like Dex's example-app): a web app that logs in with OpenID Connect through
// openid-client, using the authorization code flow with PKCE, and shows what it got back: the ID token's claims, the
// access and refresh tokens. It can refresh the tokens and log out (RP-initiated logout).
//
//   npm run example-app            # http://127.0.0.1:5555, against the demo issuer of `npm start`
//
// Settings come from the environment (defaults in brackets): ISSUER [http://127.0.0.1:5556/dex],
// CLIENT_ID [example-app], CLIENT_SECRET [the demo secret], LISTEN [127.0.0.1:5555], APP_URL [http://LISTEN], the
// app's external address, whose /callback must be registered with the client and whose / is its post-logout address.
/* global URL, URLSearchParams, Buffer */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import { renderHome, renderLoggedOut, renderError } from './pages.mjs';

const settings = {
  issuer: process.env.ISSUER ?? 'http://127.0.0.1:5556/dex',
  clientId: process.env.CLIENT_ID ?? 'example-app',
  clientSecret: process.env.CLIENT_SECRET ?? 'ZXhhbXBsZS1hcHAtc2VjcmV0',
  listen: process.env.LISTEN ?? '127.0.0.1:5555',
};
const appUrl = (process.env.APP_URL ?? `http://${settings.listen}`).replace(/\/+$/, '');
const redirectUri = `${appUrl}/callback`;
const DEFAULT_SCOPES = 'openid email profile groups offline_access';
const COOKIE = 'example_app_session';

/** Discovery, fetched on first use and kept, so the app may start before idport does. */
let discovered;
const oidcConfig = async () => {
  discovered ??= oidc
    .discovery(new URL(settings.issuer), settings.clientId, settings.clientSecret, undefined, {
      // A plain-http issuer is for local demos only; openid-client refuses it unless told.
      execute: new URL(settings.issuer).protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
    })
    .catch((err) => {
      discovered = undefined;
      throw err;
    });
  return discovered;
};

/** Logins in progress by state, and logged-in browsers by session cookie. In memory: this is a demo. */
const pending = new Map();
const sessions = new Map();

const sessionOf = (req) => {
  const match = /(?:^|;\s*)example_app_session=([\w-]+)/.exec(req.headers.cookie ?? '');
  return match ? sessions.get(match[1]) : undefined;
};

const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
};
const redirect = (res, location, headers = {}) => {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...headers });
  res.end();
};

const readForm = async (req) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
};

/** GET or POST /login: a PKCE verifier, state and nonce for this attempt, then off to the issuer. */
const login = async (req, res, url) => {
  const form = req.method === 'POST' ? await readForm(req) : url.searchParams;
  const scope = (form.get('scope') ?? '').trim() || DEFAULT_SCOPES;
  const config = await oidcConfig();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  pending.set(state, { verifier, nonce, scope });
  const params = {
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  const connector = (form.get('connector_id') ?? '').trim();
  if (connector !== '') params.connector_id = connector;
  redirect(res, oidc.buildAuthorizationUrl(config, params).href);
};

/** GET /callback: the code for tokens, checking state, PKCE and nonce; a session for this browser. */
const callback = async (req, res, url) => {
  const error = url.searchParams.get('error');
  if (error !== null) {
    const description = url.searchParams.get('error_description') ?? '';
    return send(res, 400, renderError(`The login was refused: ${error}`, description));
  }
  const state = url.searchParams.get('state') ?? '';
  const attempt = pending.get(state);
  if (attempt === undefined) return send(res, 400, renderError('Unknown or used login attempt', 'Log in again.'));
  pending.delete(state);
  const config = await oidcConfig();
  const tokens = await oidc.authorizationCodeGrant(config, new URL(req.url, appUrl), {
    pkceCodeVerifier: attempt.verifier,
    expectedState: state,
    expectedNonce: attempt.nonce,
  });
  const id = randomBytes(18).toString('base64url');
  sessions.set(id, { tokens, claims: tokens.claims(), scope: attempt.scope, refreshedAt: undefined });
  redirect(res, '/', { 'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax` });
};

/** POST /refresh: new tokens with the refresh token (idport rotates it on every use). */
const refresh = async (req, res) => {
  const session = sessionOf(req);
  if (session?.tokens.refresh_token === undefined) return redirect(res, '/');
  const config = await oidcConfig();
  const tokens = await oidc.refreshTokenGrant(config, session.tokens.refresh_token);
  session.tokens = tokens;
  session.claims = tokens.claims() ?? session.claims;
  session.refreshedAt = new Date();
  redirect(res, '/');
};

/** POST /logout: forget the local session, then RP-initiated logout at the issuer, which comes back to /. */
const logout = async (req, res) => {
  const session = sessionOf(req);
  const clear = { 'set-cookie': `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0` };
  if (session === undefined) return redirect(res, '/', clear);
  for (const [id, value] of sessions) if (value === session) sessions.delete(id);
  const config = await oidcConfig();
  const endSession = oidc.buildEndSessionUrl(config, {
    id_token_hint: session.tokens.id_token,
    post_logout_redirect_uri: `${appUrl}/`,
    state: 'logged-out',
  });
  redirect(res, endSession.href, clear);
};

const routes = {
  'GET /': (req, res, url) =>
    url.searchParams.get('state') === 'logged-out'
      ? send(res, 200, renderLoggedOut())
      : send(res, 200, renderHome({ session: sessionOf(req), settings, redirectUri, defaultScopes: DEFAULT_SCOPES })),
  'GET /login': login,
  'POST /login': login,
  'GET /callback': callback,
  'POST /refresh': refresh,
  'POST /logout': logout,
};

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', appUrl);
  const route = routes[`${req.method} ${url.pathname}`];
  if (route === undefined) return send(res, 404, renderError('Not found', 'Go to the start page.'));
  Promise.resolve(route(req, res, url)).catch((err) => {
    console.error(`${req.method} ${url.pathname}: ${err?.message ?? err}`);
    const detail = err?.error_description ?? err?.cause?.message ?? err?.message ?? String(err);
    send(res, 502, renderError('The request to idport failed', `${detail} (is idport running at ${settings.issuer}?)`));
  });
});

const colon = settings.listen.lastIndexOf(':');
server.listen(Number(settings.listen.slice(colon + 1)), settings.listen.slice(0, colon) || '0.0.0.0', () => {
  console.log(`example app on ${appUrl} (issuer ${settings.issuer}, client ${settings.clientId})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
