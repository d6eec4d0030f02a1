/**
 * The rotation rules as pure functions over the stored `Keys` row. They run inside
 * `storage.updateKeys`, which may call them more than once, so they never generate keys, read the
 * clock or log: everything they need is passed in.
 */
import type { Keys } from '../../storage/storage.js';
import { algorithmOf, type GeneratedKey, type SigningAlgorithm } from './keys.js';

/** Why a rotation is being considered: the first start of a process, or the periodic timer. */
export type RotationTrigger = 'startup' | 'timer';

/** Everything the rotation rules depend on, fixed before the compare-and-swap starts. */
export interface RotationPolicy {
  /** Algorithm from the config; new keys are always generated for it. */
  readonly algorithm: SigningAlgorithm;
  readonly rotationPeriodMs: number;
  /**
   * How long a retired public key stays published: the longest lifetime of a token it signed
   * (ID and access tokens) plus how long a replica may keep signing with a key it cached.
   */
  readonly retentionMs: number;
}

/**
 * True when `keys` must be replaced at `now`: the rotation time has come, the current key is
 * unusable (no `kid` or an algorithm idport does not sign with), or — at startup only — the config
 * names a different algorithm. The algorithm check is limited to startup so that, during a rolling
 * deploy, old and new replicas do not take turns rotating to their own algorithm on every tick.
 */
export function isRotationDue(keys: Keys, now: Date, trigger: RotationTrigger, policy: RotationPolicy): boolean {
  if (now.getTime() >= keys.nextRotation.getTime()) return true;
  const alg = algorithmOf(keys.signingKeyPub);
  if (alg === undefined || keys.signingKeyPub.kid === undefined) return true;
  return trigger === 'startup' && alg !== policy.algorithm;
}

/**
 * The key set after considering `fresh` at `now`. Returns `old` unchanged when rotation is no
 * longer due — another replica won the race and its key stays. Otherwise `fresh` becomes the
 * signing key, the old public key is kept for verification until `now + retentionMs`, and retired
 * keys whose time has passed are dropped.
 */
export function nextKeys(
  old: Keys | undefined,
  fresh: GeneratedKey,
  moment: { readonly now: Date; readonly trigger: RotationTrigger },
  policy: RotationPolicy,
): Keys {
  const { now, trigger } = moment;
  const nextRotation = new Date(now.getTime() + policy.rotationPeriodMs);
  const current = { signingKey: fresh.privateJwk, signingKeyPub: fresh.publicJwk, nextRotation };
  if (old === undefined) return { ...current, verificationKeys: [] };
  if (!isRotationDue(old, now, trigger, policy)) return old;
  const stillValid = old.verificationKeys.filter(
    (v) => v.expiry.getTime() > now.getTime() && v.publicKey.kid !== old.signingKeyPub.kid,
  );
  // A current key without a kid could not have signed anything we would accept, so it is not kept.
  const retired =
    old.signingKeyPub.kid === undefined
      ? []
      : [{ publicKey: old.signingKeyPub, expiry: new Date(now.getTime() + policy.retentionMs) }];
  return { ...current, verificationKeys: [...retired, ...stillValid] };
}
