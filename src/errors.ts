/**
 * The one error model (ARCHITECTURE.md decision 7). Domain code throws OAuthError with a code and never
 * picks an HTTP status; src/http/errors.ts turns it into a response for its channel.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'account_selection_required'
  | 'invalid_token'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'registration_not_supported'
  // RFC 8628 §3.5: the device flow's polling answers.
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token';

export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string | undefined;
  constructor(code: OAuthErrorCode, description?: string, options?: { cause?: unknown }) {
    super(description ?? code, options);
    this.name = 'OAuthError';
    this.code = code;
    this.description = description;
  }
}

// RFC 6749 §5.2 (400 unless stated), RFC 6750 §3.1 (invalid_token 401).
const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  server_error: 500,
  temporarily_unavailable: 503,
};

/**
 * A token exchange's subject token that its connector did not accept (RFC 8693 §2.2.2): `access_denied`, answered
 * 401 as Dex answers it, although the same code elsewhere (a denied device login) is a plain 400.
 */
export class SubjectTokenRejectedError extends OAuthError {
  constructor(description: string) {
    super('access_denied', description);
    this.name = 'SubjectTokenRejectedError';
  }
}

export const statusOf = (e: OAuthError): number =>
  e instanceof SubjectTokenRejectedError ? 401 : (STATUS[e.code] ?? 400);
