/**
 * Discovery of the upstream OpenID provider (OIDC Discovery 1.0) with Dex's `providerDiscoveryOverrides`,
 * `issuerAlias`, client authentication and PKCE choices, through openid-client.
 */
import { createRemoteJWKSet, customFetch, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import type { OidcConfig } from './config.js';

// Hosts whose token endpoint refuses HTTP Basic client authentication (Dex's brokenAuthHeaderDomains).
const BASIC_AUTH_BROKEN_HOSTS = ['okta.com', 'oktapreview.com'];

/**
 * openid-client needs a client id; a connector without `clientID` serves token exchange only (Dex's documented
 * setup), which sends none to the upstream (JWKS and userinfo), and refuses logins before any request is built.
 */
const TOKEN_EXCHANGE_ONLY_CLIENT_ID = 'idport-token-exchange-only';

/** The upstream as discovered, ready to use. */
export interface Upstream {
  readonly config: client.Configuration;
  /** PKCE method to use, or undefined when the upstream supports none. */
  readonly pkce: 'S256' | 'plain' | undefined;
  readonly hasUserInfo: boolean;
  /** The upstream's signing keys (its `jwks_uri`, cached by jose), for ID tokens presented to token exchange. */
  readonly keys: JWTVerifyGetKey | undefined;
}

/** What discovery needs besides the connector's config. */
export interface DiscoveryOptions {
  /** Fetch with the connector's TLS settings and its closing signal. */
  readonly fetch: client.CustomFetch;
  /** Whether the upstream may be plain http (tests, local development). */
  readonly insecureHttp: boolean;
  /** Timeout of each upstream request, in seconds; openid-client's default when undefined. */
  readonly timeout: number | undefined;
  readonly log: Logger;
}

/** Discovers the upstream and applies Dex's overrides: the configuration every login and refresh uses. */
export async function discover(config: OidcConfig, options: DiscoveryOptions): Promise<Upstream> {
  const { fetch: fetchFn, insecureHttp, timeout, log } = options;
  const execute = insecureHttp ? [client.allowInsecureRequests] : [];
  // With issuerAlias the discovery document may name another issuer (Azure's templated one); like Dex
  // we then skip that comparison, which openid-client does when given the document's own URL.
  const server =
    config.issuerAlias === ''
      ? new URL(config.issuer)
      : new URL('.well-known/openid-configuration', withSlash(config.issuer));
  const clientId = config.clientID === '' ? TOKEN_EXCHANGE_ONLY_CLIENT_ID : config.clientID;
  const discovered = await client.discovery(server, clientId, undefined, undefined, {
    [client.customFetch]: fetchFn,
    execute,
    timeout,
  });
  // The helper methods serverMetadata() adds are not metadata; only the document's fields are kept.
  const { supportsPKCE: _helper, ...found } = discovered.serverMetadata();
  const overrides = config.providerDiscoveryOverrides;
  const metadata: client.ServerMetadata = {
    ...found,
    // ID tokens (and RFC 9207 `iss` response parameters) must then name the alias.
    issuer: config.issuerAlias === '' ? found.issuer : config.issuerAlias,
    authorization_endpoint: overrides.authURL || found.authorization_endpoint,
    token_endpoint: overrides.tokenURL || found.token_endpoint,
    jwks_uri: overrides.jwksURL || found.jwks_uri,
    userinfo_endpoint: overrides.userInfoURL || found.userinfo_endpoint,
  };
  const auth = clientAuth(config, metadata);
  const upstream = new client.Configuration(
    metadata,
    clientId,
    config.clientSecret === '' ? undefined : { client_secret: config.clientSecret },
    auth,
  );
  upstream[client.customFetch] = fetchFn;
  if (timeout !== undefined) upstream.timeout = timeout;
  if (insecureHttp) client.allowInsecureRequests(upstream);
  // openid-client trusts an ID token from the token endpoint on TLS alone (OIDC Core 3.1.3.7); we verify its signature too.
  client.enableNonRepudiationChecks(upstream);
  const pkce = pkceMethod(config.pkceChallenge, metadata.code_challenge_methods_supported, log);
  log.info({ issuer: metadata.issuer, pkce: pkce ?? 'none' }, 'upstream discovered');
  const keys =
    metadata.jwks_uri === undefined
      ? undefined
      : createRemoteJWKSet(new URL(metadata.jwks_uri), {
          [customFetch]: joseFetch(fetchFn),
          ...(timeout === undefined ? {} : { timeoutDuration: timeout * 1000 }),
        });
  return { config: upstream, pkce, hasUserInfo: metadata.userinfo_endpoint !== undefined, keys };
}

/** jose fetches the JWKS through the connector's fetch (its TLS settings and closing signal), as openid-client does. */
const joseFetch =
  (fetchFn: client.CustomFetch): FetchImplementation =>
  (url, options) =>
    fetchFn(url, {
      method: options.method,
      headers: Object.fromEntries(options.headers),
      redirect: options.redirect,
      signal: options.signal,
      body: undefined,
    });

const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

function clientAuth(config: OidcConfig, metadata: client.ServerMetadata): client.ClientAuth {
  if (config.clientSecret === '') return client.None();
  const post = client.ClientSecretPost(config.clientSecret);
  const basic = client.ClientSecretBasic(config.clientSecret);
  if (config.basicAuthUnsupported !== undefined) return config.basicAuthUnsupported ? post : basic;
  const host = new URL(config.issuer).hostname;
  if (BASIC_AUTH_BROKEN_HOSTS.some((h) => host === h || host.endsWith(`.${h}`))) return post;
  // Dex's oauth2 library falls back to POST when Basic fails; we decide up front from the metadata instead.
  const methods = metadata.token_endpoint_auth_methods_supported;
  if (methods !== undefined && !methods.includes('client_secret_basic') && methods.includes('client_secret_post'))
    return post;
  return basic;
}

// Dex picks S256, else plain, from the metadata; we also send S256 when the upstream does not say
// (RFC 6749 §3.1: unknown parameters are ignored), since PKCE is what binds the code to this login.
function pkceMethod(
  configured: OidcConfig['pkceChallenge'],
  supported: readonly string[] | undefined,
  log: Logger,
): Upstream['pkce'] {
  if (configured !== '') {
    if (supported !== undefined && !supported.includes(configured))
      log.warn({ pkceChallenge: configured }, 'the upstream does not advertise this PKCE method');
    return configured;
  }
  if (supported === undefined || supported.includes('S256')) return 'S256';
  return supported.includes('plain') ? 'plain' : undefined;
}
