/**
 * Length limits on the parameters of the authorization and device authorization endpoints. Anyone can send these
 * requests, and some values are stored until the request expires, so each is bounded by what the RFCs and real
 * clients need (README "Parameter limits"): a stranger can make idport store only a few kilobytes per request.
 */

/** Longest value, in characters, of each parameter idport reads at /auth and /device/code. */
export const PARAMETER_LIMITS = {
  client_id: 1024,
  client_secret: 1024,
  // Registered URIs are compared exactly (or with any loopback port), so a real one is never near this.
  redirect_uri: 2048,
  response_type: 64,
  response_mode: 32,
  scope: 2048,
  state: 1024,
  nonce: 1024,
  login_hint: 1024,
  // RFC 7636 §4.1: 43–128 characters; the method is S256 or plain.
  code_challenge: 128,
  code_challenge_method: 16,
  prompt: 64,
  max_age: 10,
  connector_id: 256,
  approval_prompt: 16,
  // Not stored, but verified as a JWT: an ID token with many groups is a few kilobytes.
  id_token_hint: 16_384,
} as const;

export type LimitedParameter = keyof typeof PARAMETER_LIMITS;

/** Most scopes one request may name (Dex's own scopes plus audience scopes for trusted peers fit many times over). */
export const MAX_SCOPES = 32;

/** A parameter over its limit: which, and the limit, for the error's description. */
export interface OverLimit {
  readonly name: LimitedParameter;
  readonly limit: number;
}

/** The first of `names` whose value (any of its values, when repeated) is longer than its limit. */
export const firstOverLimit = (
  read: (name: string) => readonly string[],
  names: readonly LimitedParameter[],
): OverLimit | undefined => {
  for (const name of names) {
    const limit = PARAMETER_LIMITS[name];
    if (read(name).some((value) => value.length > limit)) return { name, limit };
  }
  return undefined;
};

/** The error description for a parameter over its limit. */
export const overLimitDescription = ({ name, limit }: OverLimit): string =>
  `the ${name} parameter is longer than ${limit} characters`;

/** Every limited parameter, for the checks that cover all of them. */
export const LIMITED_PARAMETERS = Object.keys(PARAMETER_LIMITS) as LimitedParameter[];
