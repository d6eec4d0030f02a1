/**
 * An independent upstream OpenID provider for tests: panva's certified `oidc-provider` on a loopback
 * port (plain http), with configurable accounts, one or more confidential clients, PKCE required,
 * refresh tokens (rotated) for `offline_access`, and a tiny interaction handler that logs the
 * account in and grants consent without a browser. Hooks let a test forge what an attacker or a
 * broken upstream would send: rewritten ID tokens (another audience, nonce or key) and revoked grants.
 *
 *   const upstream = await startUpstreamOp({ redirectUris: [callbackUrl], accounts: [{ sub: 'alice', ... }] });
 *   after(() => upstream.close());
 *   const { url } = await connector.loginUrl(scopes, callbackUrl, state);   // or idport's /auth URL
 *   const query = await upstream.followLogin(url, { callbackUrl, account: 'alice' });
 *   await connector.handleCallback(scopes, connectorState, query);
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';

import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';

/** A user at the upstream. Claims are released according to the granted scopes (see `claims` below). */
export interface UpstreamAccount {
  readonly sub: string;
  readonly name?: string;
  readonly preferred_username?: string;
  readonly email?: string;
  /** Omitted means the claim is absent, which is not the same as false. */
  readonly email_verified?: boolean;
  readonly groups?: readonly string[];
  /** Further claims in both the ID token and userinfo, released under the `profile` scope. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Claims only the userinfo endpoint returns (a "thin" ID token), released under the `profile` scope. */
  readonly userinfoOnly?: Readonly<Record<string, unknown>>;
}

/** A client registered at the upstream. */
export interface UpstreamClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
  /** How the client authenticates at the token endpoint; oidc-provider's default is client_secret_basic. */
  readonly tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
}

/** What the test chooses when it starts the upstream. */
export interface UpstreamOptions {
  readonly accounts: readonly UpstreamAccount[];
  /** Redirect URIs of the default client (`clientId`/`clientSecret` below); without them only `clients` are registered. */
  readonly redirectUris?: readonly string[];
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** More clients, e.g. a second downstream in a chained test. */
  readonly clients?: readonly UpstreamClient[];
  /** Listen on this port (e.g. from freePort(), to start the upstream after its relying party); default ephemeral. */
  readonly port?: number;
  /** The issuer identifier when it differs from the URL the server is reached at (tests of `issuerAlias`). */
  readonly issuer?: (port: number) => string;
  /** Serve https with this PEM key and certificate (for 127.0.0.1) instead of http. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

/** Rewrites the claims of ID tokens the token endpoint returns; `signWith` forges the signature with another key. */
export interface IdTokenTamper {
  readonly claims?: (claims: JWTPayload) => JWTPayload;
  readonly signWith?: CryptoKey;
  /** Leave the ID token out, as many upstreams do on refresh. */
  readonly drop?: boolean;
  /** Only for this grant (e.g. `refresh_token`); default every grant. */
  readonly grantType?: 'authorization_code' | 'refresh_token';
}

/** Per-login choices, carried to the interaction handler in the interaction URL (as a form post would). */
export interface LoginChoice {
  /** Stop following at this URL, whatever its query (the relying party's callback). */
  readonly callbackUrl: string;
  /** Which account logs in; default the first configured account (see setDefaultAccount). */
  readonly account?: string;
  /** The user declines at the upstream: the upstream redirects back with `error=access_denied`. */
  readonly deny?: boolean;
  /** Cookies to send and keep; pass one jar to several logins to reuse the upstream session. */
  readonly jar?: CookieJar;
  /** The user agent's HTTP client (default the global fetch), e.g. one that trusts a test CA. */
  readonly fetch?: FollowFetch;
}

/** A running upstream provider. */
export interface UpstreamOp {
  /** The issuer identifier (what discovery and ID tokens say). */
  readonly issuer: string;
  /** The URL the server answers at (differs from `issuer` only with the `issuer` option). */
  readonly url: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The OP's public signing key, as served from its JWKS. */
  readonly signingKey: JWK;
  /** Adds or replaces an account (claims changed upstream, seen by the next refresh); claim names must be ones the accounts at start used. */
  setAccount(account: UpstreamAccount): void;
  /** Which account logs in when the interaction URL carries no choice (e.g. a login driven by another test browser). */
  setDefaultAccount(sub: string): void;
  /** Deletes an account: its refresh tokens stop working. */
  removeAccount(sub: string): void;
  /** Destroys every grant the account gave, as a user revoking access or an admin ending sessions does. */
  revokeGrants(sub: string): Promise<number>;
  /** From now on, rewrites ID tokens from the token endpoint (undefined stops it). */
  tamperIdTokens(tamper: IdTokenTamper | undefined): void;
  /** Follows an authorization URL through the upstream's login and consent to the callback; returns its query. */
  followLogin(authorizationUrl: string | URL, choice: LoginChoice): Promise<URLSearchParams>;
  close(): Promise<void>;
}

/** Default client credentials of the upstream, so tests do not repeat literals. */
export const UPSTREAM_CLIENT = { clientId: 'idport', clientSecret: 'upstream-client-secret' } as const;

// --- the slice of oidc-provider this harness uses (the package ships no type declarations) ---

interface KoaContext {
  readonly oidc?: { readonly params?: Readonly<Record<string, unknown>> };
  readonly path: string;
  readonly method: string;
  status: number;
  body: unknown;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface Interaction {
  readonly prompt: { readonly name: string; readonly details: Readonly<Record<string, unknown>> };
  readonly params: Readonly<Record<string, unknown>>;
  readonly session?: { readonly accountId?: string };
  readonly grantId?: string;
}
interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: readonly string[]): void;
  save(): Promise<string>;
  destroy(): Promise<void>;
}
interface GrantClass {
  new (init: { accountId: string; clientId: string }): Grant;
  find(id: string): Promise<Grant | undefined>;
}
interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: Middleware): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  readonly Grant: GrantClass;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => Provider;

// The specifier is a variable so TypeScript does not look for declarations oidc-provider does not ship;
// the one value we take from the module is checked before use.
async function loadProvider(): Promise<ProviderConstructor> {
  const specifier = 'oidc-provider';
  const mod: unknown = await import(specifier);
  const ctor: unknown = typeof mod === 'object' && mod !== null && 'default' in mod ? mod.default : undefined;
  if (typeof ctor !== 'function') throw new Error('oidc-provider: no default export');
  return ctor as ProviderConstructor;
}

// Claims oidc-provider releases for each scope; other account claims are added to `profile`.
const STANDARD_CLAIMS: Record<string, string[]> = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};

/** A free loopback port, for an upstream that must start after the relying party that points at it. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

/** Generates an RS256 signing key pair with the given `kid` (another key with the same kid forges a signature). */
export async function generateSigningKey(
  kid: string,
): Promise<{ privateKey: CryptoKey; privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateKey, privateJwk, publicJwk };
}

/** Starts the upstream provider; close() it when done. */
export async function startUpstreamOp(options: UpstreamOptions): Promise<UpstreamOp> {
  const Provider = await loadProvider();
  const accounts = new Map(options.accounts.map((a) => [a.sub, a]));
  const grantsByAccount = new Map<string, string[]>();
  const key = await generateSigningKey('upstream-key-1');
  let tamper: IdTokenTamper | undefined;
  let defaultAccount = options.accounts[0]?.sub;

  const server: Server =
    options.tls === undefined ? createServer() : createTlsServer({ key: options.tls.key, cert: options.tls.cert });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('upstream-op: no TCP address');
  const port = address.port;
  const url = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  const issuer = options.issuer?.(port) ?? url;

  const clientId = options.clientId ?? UPSTREAM_CLIENT.clientId;
  const clientSecret = options.clientSecret ?? UPSTREAM_CLIENT.clientSecret;
  const clients: UpstreamClient[] = [
    { clientId, clientSecret, redirectUris: options.redirectUris ?? [] },
    ...(options.clients ?? []),
  ].filter((c) => c.redirectUris.length > 0);

  const extraClaims = new Set<string>();
  for (const a of options.accounts)
    for (const name of [...Object.keys(a.claims ?? {}), ...Object.keys(a.userinfoOnly ?? {})]) extraClaims.add(name);
  const claims = { ...STANDARD_CLAIMS, profile: [...(STANDARD_CLAIMS.profile ?? []), ...extraClaims] };

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: c.tokenEndpointAuthMethod ?? 'client_secret_basic',
    })),
    jwks: { keys: [key.privateJwk] },
    cookies: { keys: ['upstream-op-cookie-key'] },
    claims,
    // Most upstreams put the profile claims in the ID token; userinfo-only claims are opted into per account.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      RefreshToken: 86_400,
      Grant: 86_400,
      Interaction: 3600,
      Session: 86_400,
    },
    async findAccount(_ctx: unknown, sub: string) {
      const account = accounts.get(sub);
      if (account === undefined) return undefined;
      return {
        accountId: sub,
        async claims(use: string) {
          const { claims: extra, userinfoOnly, ...standard } = account;
          return { ...standard, ...extra, ...(use === 'userinfo' ? userinfoOnly : {}) };
        },
      };
    },
    async renderError(ctx: KoaContext, out: Record<string, unknown>) {
      ctx.body = JSON.stringify(out); // plain text is enough for a test to read what went wrong
    },
  });

  provider.use(async (ctx, next) => {
    await next();
    if (tamper === undefined || ctx.path !== '/token' || ctx.status !== 200) return;
    if (tamper.grantType !== undefined && ctx.oidc?.params?.grant_type !== tamper.grantType) return;
    const body = ctx.body;
    if (typeof body !== 'object' || body === null || !('id_token' in body) || typeof body.id_token !== 'string') return;
    if (tamper.drop === true) {
      const { id_token: _dropped, ...rest } = body;
      ctx.body = rest;
      return;
    }
    const header = decodeProtectedHeader(body.id_token);
    const payload = tamper.claims ? tamper.claims(decodeJwt(body.id_token)) : decodeJwt(body.id_token);
    const alg = header.alg ?? 'RS256';
    const forged = await new SignJWT(payload)
      .setProtectedHeader({ ...header, alg })
      .sign(tamper.signWith ?? key.privateKey);
    ctx.body = { ...body, id_token: forged };
  });

  const handle = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/interaction/')) {
      interact(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(`upstream-op interaction failed: ${String(err)}`);
      });
      return;
    }
    handle(req, res);
  });

  // Logs in (prompt "login") and grants everything asked (prompt "consent"), as a user clicking through would.
  async function interact(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const query = new URL(req.url ?? '/', url).searchParams;
    if (query.get('deny') === '1') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user declined.' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (details.prompt.name === 'login') {
      const accountId = query.get('account') ?? defaultAccount;
      if (accountId === undefined || !accounts.has(accountId)) throw new Error(`unknown account ${String(accountId)}`);
      await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    const accountId = details.session?.accountId;
    const clientIdParam = details.params.client_id;
    if (accountId === undefined || typeof clientIdParam !== 'string') throw new Error('consent without a session');
    const existing = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
    const grant = existing ?? new provider.Grant({ accountId, clientId: clientIdParam });
    const { missingOIDCScope, missingOIDCClaims } = details.prompt.details;
    if (Array.isArray(missingOIDCScope)) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (Array.isArray(missingOIDCClaims))
      grant.addOIDCClaims(missingOIDCClaims.filter((c): c is string => typeof c === 'string'));
    const grantId = await grant.save();
    grantsByAccount.set(accountId, [...(grantsByAccount.get(accountId) ?? []), grantId]);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  return {
    issuer,
    url,
    port,
    clientId,
    clientSecret,
    signingKey: key.publicJwk,
    setAccount: (account) => void accounts.set(account.sub, account),
    setDefaultAccount: (sub) => {
      defaultAccount = sub;
    },
    removeAccount: (sub) => void accounts.delete(sub),
    async revokeGrants(sub) {
      const ids = grantsByAccount.get(sub) ?? [];
      grantsByAccount.delete(sub);
      let revoked = 0;
      for (const id of ids) {
        const grant = await provider.Grant.find(id);
        if (grant === undefined) continue;
        await grant.destroy();
        revoked += 1;
      }
      return revoked;
    },
    tamperIdTokens: (next) => {
      tamper = next;
    },
    followLogin(authorizationUrl, choice) {
      return followLogin(authorizationUrl, {
        ...choice,
        // The interaction page is this harness's "form": the choice rides along in its URL.
        rewrite(next) {
          if (next.origin !== url || !next.pathname.startsWith('/interaction/')) return next;
          const withChoice = new URL(next);
          if (choice.account !== undefined) withChoice.searchParams.set('account', choice.account);
          if (choice.deny === true) withChoice.searchParams.set('deny', '1');
          return withChoice;
        },
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Cookies per origin, as a browser keeps them (paths and expiry ignored: enough for a login in a test). */
export class CookieJar {
  private readonly byOrigin = new Map<string, Map<string, string>>();

  /** The Cookie header for a request to `url`, or undefined when there is none. */
  header(url: URL): string | undefined {
    const cookies = this.byOrigin.get(url.origin);
    if (cookies === undefined || cookies.size === 0) return undefined;
    return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Keeps the cookies a response from `url` sets (and forgets the ones it expires). */
  store(url: URL, response: Response): void {
    const cookies = this.byOrigin.get(url.origin) ?? new Map<string, string>();
    this.byOrigin.set(url.origin, cookies);
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) cookies.delete(name);
      else cookies.set(name, pair.slice(eq + 1).trim());
    }
  }
}

/** The one request shape followLogin makes; the global fetch and openid-client's CustomFetch both fit. */
export type FollowFetch = (
  url: string,
  init: { method: 'GET'; body: undefined; redirect: 'manual'; headers: Record<string, string> },
) => Promise<Response>;

/** How to follow a login's redirects. */
export interface FollowOptions {
  /** Stop at the first URL with this origin and path (any query) and return its query. */
  readonly callbackUrl: string;
  readonly jar?: CookieJar;
  /** Changes a URL before it is fetched (e.g. to carry a choice to a test IdP's interaction page). */
  readonly rewrite?: (url: URL) => URL;
  readonly fetch?: FollowFetch;
  readonly maxRedirects?: number;
}

/**
 * Follows redirects from `start` (GET, with cookies, across origins) until one points at
 * `callbackUrl`, and returns that URL's query without requesting it. Throws with the status and
 * body when a response is not a redirect, so a test failing at the upstream shows why.
 */
export async function followLogin(start: string | URL, options: FollowOptions): Promise<URLSearchParams> {
  const jar = options.jar ?? new CookieJar();
  const doFetch: FollowFetch = options.fetch ?? fetch;
  const callback = new URL(options.callbackUrl);
  let next = new URL(start);
  for (let hop = 0; hop <= (options.maxRedirects ?? 20); hop += 1) {
    // Origin and path exactly: /callback must not also stop at /callback/:connector.
    if (next.origin === callback.origin && next.pathname === callback.pathname) return next.searchParams;
    const target = options.rewrite ? options.rewrite(next) : next;
    const cookie = jar.header(target);
    const response = await doFetch(target.href, {
      method: 'GET',
      body: undefined,
      redirect: 'manual',
      headers: cookie === undefined ? {} : { cookie },
    });
    jar.store(target, response);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) {
      const body = await response.text();
      throw new Error(
        `followLogin: ${target.href} answered ${response.status} without a redirect: ${body.slice(0, 500)}`,
      );
    }
    await response.body?.cancel();
    next = new URL(location, target);
  }
  throw new Error(`followLogin: more than ${options.maxRedirects ?? 20} redirects from ${new URL(start).href}`);
}
