/**
 * The `authproxy` connector (Dex's connector/authproxy): the user was authenticated by a proxy in
 * front of idport (Apache mod_auth_*, oauth2-proxy, an ingress with external auth) that sets who
 * they are in request headers. The login redirects to `<issuer>/callback/<id>`, the one path the
 * proxy must guard, and the server hands this connector the configured headers only there (see
 * CallbackConnector.callbackHeaders). No refresh, as in Dex.
 */
import {
  type CallbackConnector,
  type CallbackHeaders,
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type ConnectorModule,
  type Identity,
  type Scopes,
} from '../connector.js';
import { type AuthProxyConfig, configSchema } from './config.js';

export { type AuthProxyConfig, configSchema } from './config.js';

interface HeaderNames {
  readonly userId: string;
  readonly user: string;
  readonly userName: string;
  readonly email: string;
  readonly group: string;
}

const or = (value: string, fallback: string): string => (value === '' ? fallback : value);

/** Opens the connector (it has no upstream to contact). */
export async function open(id: string, config: AuthProxyConfig, deps: ConnectorDeps): Promise<Connector> {
  const names: HeaderNames = {
    userId: or(config.userIDHeader, 'X-Remote-User-Id'),
    user: or(config.userHeader, 'X-Remote-User'),
    userName: or(config.userNameHeader, 'X-Remote-User-Name'),
    email: or(config.emailHeader, 'X-Remote-User-Email'),
    group: or(config.groupHeader, 'X-Remote-Group'),
  };
  deps.log
    .child({ connector: id })
    .info(
      { path: `/callback/${id}`, userHeader: names.user },
      'authproxy: the proxy in front of idport must authenticate this path and set the user headers on it',
    );
  return new AuthProxyConnector(id, names, or(config.groupHeaderSeparator, ','), config.staticGroups ?? []);
}

/** The connector module for the registry. */
export const authproxy = { configSchema, open } satisfies ConnectorModule<typeof configSchema>;

class AuthProxyConnector implements CallbackConnector {
  readonly kind = 'callback';
  readonly callbackHeaders: readonly string[];

  constructor(
    private readonly id: string,
    private readonly names: HeaderNames,
    private readonly separator: string,
    private readonly staticGroups: readonly string[],
  ) {
    this.callbackHeaders = Object.values(names);
  }

  // Dex: the callback URL with `/<id>` appended and the state in the query.
  async loginUrl(_scopes: Scopes, callbackUrl: string, state: string): Promise<{ url: string }> {
    const url = new URL(callbackUrl);
    url.pathname += `/${encodeURIComponent(this.id)}`;
    url.searchParams.set('state', state);
    return { url: url.href };
  }

  async handleCallback(
    _scopes: Scopes,
    _state: Uint8Array | undefined,
    _query: URLSearchParams,
    headers: CallbackHeaders = new Map(),
  ): Promise<Identity> {
    const get = (name: string): string => headers.get(name.toLowerCase()) ?? '';
    const user = get(this.names.user);
    if (user === '')
      throw new ConnectorError(
        `required HTTP header ${this.names.user} is not set`,
        'The authenticating proxy did not say who you are. Log in through the proxy and try again.',
      );
    const headerGroups = get(this.names.group);
    const groups = headerGroups === '' ? [] : headerGroups.split(this.separator).map((group) => group.trim());
    return {
      userId: or(get(this.names.userId), user),
      username: user,
      preferredUsername: or(get(this.names.userName), user),
      email: or(get(this.names.email), user),
      emailVerified: true,
      groups: [...groups, ...this.staticGroups],
    };
  }
}
