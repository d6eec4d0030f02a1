/**
 * What the `oidc` connector accepts as a subject token in a token exchange (RFC 8693; Dex's TokenIdentity in
 * connector/oidc/oidc.go, which verifies with go-oidc):
 *
 * - an ID token: its signature against the upstream's published keys (jose; the algorithms the upstream lists in
 *   `id_token_signing_alg_values_supported`, RS256 when it lists none, never `none`), `iss` exactly the upstream's
 *   issuer, `exp` present and not passed, `nbf` (if present) with go-oidc's five minutes of leeway. The audience is
 *   not checked, as Dex skips it: the token may have been issued to any client of the upstream (a CI job's own).
 * - an access token, only with `getUserInfo: true`: the upstream's userinfo endpoint vouches for it (openid-client).
 *   An ID token is never sent to userinfo (Dex does, with getUserInfo); its verified claims are the user.
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';
import * as client from 'openid-client';

import { ConnectorError } from '../connector.js';
import type { Upstream } from './discovery.js';

/** Safe to show; the thrown message says what failed, for the log. */
const REFUSED = 'The subject token was not accepted.';
const UNREACHABLE = 'The identity provider could not be reached to check the subject token.';

/** go-oidc's leeway for `nbf` (clock skew between the upstream and us). */
const NOT_BEFORE_LEEWAY_SECONDS = 300;

// JWS algorithms jose verifies with public keys; anything else the upstream lists cannot verify a token here.
const JWS_ALGORITHMS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

/** go-oidc's choice: the upstream's advertised ID token algorithms, or RS256 when it advertises none. */
const idTokenAlgorithms = (upstream: Upstream): string[] => {
  const listed = upstream.config.serverMetadata().id_token_signing_alg_values_supported ?? [];
  const usable = listed.filter((alg) => JWS_ALGORITHMS.has(alg));
  return listed.length === 0 ? ['RS256'] : usable;
};

// jose's verdicts about the token are refusals; a JWKS that cannot be fetched or read is the upstream failing.
const isUpstreamFailure = (err: unknown): boolean =>
  !(err instanceof errors.JOSEError) ||
  err.code === 'ERR_JOSE_GENERIC' ||
  err instanceof errors.JWKSTimeout ||
  err instanceof errors.JWKSInvalid;

/** Verifies an upstream ID token; returns its claims, or throws ConnectorError. */
export async function verifyUpstreamIdToken(upstream: Upstream, token: string, now: Date): Promise<JWTPayload> {
  if (upstream.keys === undefined)
    throw new ConnectorError('the upstream publishes no jwks_uri, so its ID tokens cannot be verified', REFUSED);
  const { issuer } = upstream.config.serverMetadata();
  let payload: JWTPayload;
  try {
    // The tolerance serves `nbf` only: `exp` is held to the second below, as go-oidc holds it.
    ({ payload } = await jwtVerify(token, upstream.keys, {
      issuer,
      algorithms: idTokenAlgorithms(upstream),
      requiredClaims: ['exp'],
      clockTolerance: NOT_BEFORE_LEEWAY_SECONDS,
      currentDate: now,
    }));
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    if (isUpstreamFailure(err))
      throw new ConnectorError(`subject ID token: upstream keys unavailable: ${reason}`, UNREACHABLE, {
        cause: err,
        temporary: true,
      });
    throw new ConnectorError(`subject ID token refused: ${reason}`, REFUSED, { cause: err });
  }
  const exp = payload.exp ?? 0;
  if (exp * 1000 < now.getTime())
    throw new ConnectorError(`subject ID token expired at ${new Date(exp * 1000).toISOString()}`, REFUSED);
  return payload;
}

/** The userinfo claims of an upstream access token, which the upstream vouches for by answering. */
export async function accessTokenClaims(
  upstream: Upstream,
  token: string,
  getUserInfo: boolean,
): Promise<Record<string, unknown>> {
  if (!getUserInfo)
    throw new ConnectorError('an access token can be exchanged only when the connector sets getUserInfo', REFUSED);
  if (!upstream.hasUserInfo)
    throw new ConnectorError('the upstream has no userinfo endpoint to check the access token with', REFUSED);
  return client.fetchUserInfo(upstream.config, token, client.skipSubjectCheck);
}
