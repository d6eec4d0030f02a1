/** Redirect URI matching: which URIs may receive a client's authorization responses. */
import type { Client } from '../../../storage/storage.js';

/** The out-of-band redirect URI: the code is shown on a page instead of being redirected (Dex, RFC 8252 predecessor). */
export const OOB_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

const loopbackUrl = (uri: string): URL | undefined => {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) ? url : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Whether `redirectUri` may receive this client's responses. Registered URIs match exactly, query included.
 * Public clients (CLIs, desktop apps) may also use the OOB URI and, per RFC 8252 §7.3, a loopback URI on any
 * port: any loopback URI when they registered none (Dex's rule), otherwise one that differs from a registered
 * loopback URI only in its port.
 */
export const isRedirectUriAllowed = (client: Client, redirectUri: string): boolean => {
  if (client.redirectURIs.includes(redirectUri)) return true;
  if (!client.public) return false;
  if (redirectUri === OOB_REDIRECT_URI) return true;
  const requested = loopbackUrl(redirectUri);
  if (requested === undefined) return false;
  if (client.redirectURIs.length === 0) return true;
  return client.redirectURIs.some((registered) => {
    const url = loopbackUrl(registered);
    if (url === undefined) return false;
    url.port = requested.port;
    return url.href === requested.href;
  });
};

/**
 * `uri` with `params` added to its query (or, for `fragment`, as its fragment). A path-absolute URI such as
 * `/login/oidc` (registered by apps behind the same gateway host as idport, as Kubeflow's) stays relative, as Dex
 * sends it (server/handlers.go), so the browser resolves it against the host it used; it is never resolved against
 * the issuer or a request header.
 */
export const withResponseParams = (
  uri: string,
  params: URLSearchParams,
  placement: 'query' | 'fragment' = 'query',
): string => {
  const isRelative = uri.startsWith('/') && !uri.startsWith('//');
  // A base that cannot collide with a real host; only the path, query and fragment are used from it.
  const url = new URL(uri, isRelative ? 'http://relative.invalid' : undefined);
  if (placement === 'fragment') url.hash = params.toString();
  else for (const [key, value] of params) url.searchParams.append(key, value);
  return isRelative ? `${url.pathname}${url.search}${url.hash}` : url.href;
};
