/**
 * The deny-list of revoked access tokens, by `jti` (the `revokedTokens` table). Access tokens are self-contained
 * JWTs, so one revoked before its expiry is remembered here until it would have expired anyway; /userinfo and
 * introspection refuse a listed token. This is what makes every access token revocable, with or without a grant.
 */
import type { JWTPayload } from 'jose';
import { AlreadyExistsError } from '../../../storage/storage.js';
import type { Provider } from '../provider.js';

/**
 * How long an entry outlives its token. Replicas judge `exp` by their own clocks (README: a few seconds of skew are
 * fine); were the entry collected at the token's exact expiry by a replica whose clock runs ahead, one running behind
 * would accept the token again for the difference.
 */
export const DENY_LIST_MARGIN_MS = 60_000;

/**
 * Lists the access token `payload` describes as revoked, until its `exp` plus the margin. A token without `jti` or
 * `exp` (none idport issues) or already expired needs no entry; revoking a listed token again changes nothing.
 */
export const denyAccessToken = async (provider: Pick<Provider, 'storage' | 'deps'>, payload: JWTPayload) => {
  const { jti, exp } = payload;
  if (typeof jti !== 'string' || jti === '' || typeof exp !== 'number') return;
  if (exp * 1000 <= provider.deps.clock.now().getTime()) return;
  try {
    await provider.storage.revokedTokens.create({ id: jti, expiry: new Date(exp * 1000 + DENY_LIST_MARGIN_MS) });
  } catch (err: unknown) {
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
};

/** Whether the access token with this `jti` was revoked. Storage failures propagate: they never look like a verdict. */
export const isAccessTokenDenied = async (provider: Pick<Provider, 'storage'>, jti: unknown): Promise<boolean> =>
  typeof jti === 'string' && (await provider.storage.revokedTokens.get(jti)) !== undefined;
