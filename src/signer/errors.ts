/**
 * Why a JWT was refused. Callers choose the OAuth error: `invalid_token` at /userinfo (RFC 6750
 * §3.1), `invalid_request` for an id_token_hint; the signer never picks one.
 */
import { errors } from 'jose';

/** The reason a token failed verification. */
export type TokenErrorReason =
  /** Not a compact JWS, or its header or payload is not valid JSON. */
  | 'malformed'
  /** `alg` is not one of the published keys' algorithms (this includes `none`). */
  | 'algorithm_not_allowed'
  /** No published key has the token's `kid` (never ours, or retired long enough to be dropped). */
  | 'unknown_key'
  /** The signature does not match the key named by `kid`. */
  | 'invalid_signature'
  /** `exp` has passed by the injected clock. */
  | 'expired'
  /** A claim or header check failed (`iss`, `aud`, `typ`, `nbf`, missing `exp`); see `claim`. */
  | 'invalid_claim';

/** Thrown by `Signer.verify`; `cause` keeps the jose error for the log. */
export class TokenVerificationError extends Error {
  readonly reason: TokenErrorReason;
  /** The claim or header parameter that failed, for `invalid_claim`. */
  readonly claim: string | undefined;
  constructor(reason: TokenErrorReason, message: string, options?: { cause?: unknown; claim?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokenVerificationError';
    this.reason = reason;
    this.claim = options?.claim;
  }
}

/** The verdict for what jose threw, or undefined when it is not the token's fault (storage down, a bug). */
export function verificationErrorOf(err: unknown): TokenVerificationError | undefined {
  if (err instanceof TokenVerificationError) return err;
  if (err instanceof errors.JWTExpired) return new TokenVerificationError('expired', 'token expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new TokenVerificationError('invalid_claim', err.message, { cause: err, claim: err.claim });
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new TokenVerificationError('algorithm_not_allowed', err.message, { cause: err });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenVerificationError('invalid_signature', 'signature verification failed', { cause: err });
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new TokenVerificationError('malformed', err.message, { cause: err });
  }
  // Anything else must surface as a server error, not be answered as a bad token.
  return undefined;
}
