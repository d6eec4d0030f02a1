/**
 * OAuth errors that several modules raise with the same description, named once so the wire text cannot drift
 * between them. Factories, not shared instances: each throw gets its own stack.
 */
import { OAuthError } from '../../errors.js';

/** The user refused at the approval page, or denied a device login (RFC 6749 §4.1.2.1, RFC 8628 §3.5). */
export const userDenied = (): OAuthError => new OAuthError('access_denied', 'the user denied the request');

/** /token/introspect and /token/revoke without a `token` (RFC 7662 §2.1, RFC 7009 §2.1). */
export const tokenRequired = (): OAuthError => new OAuthError('invalid_request', 'token is required');
