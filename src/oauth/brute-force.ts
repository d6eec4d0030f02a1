/**
 * Brute-force protection (`bruteForce`): one budget of failed password attempts per account (per connector, the
 * name as the connector matches it) and one per client IP, shared by the password page, the password grant and
 * device-flow logins, and by every replica through storage. An attempt is admitted first (counted as pending, so a
 * burst of parallel guesses cannot all slip past the check), then answered: a failure counts, a success clears the
 * account and never counts, a backend error counts nothing.
 */
import { createHash } from 'node:crypto';
import { AlreadyExistsError, NotFoundError, type PasswordFailures, type Table } from '../../storage/storage.js';
import type { Provider } from './provider.js';
import type { BruteForceSettings } from './settings.js';

/** Thrown instead of checking a password: the account is locked or the client IP has used up its failures. */
export class LoginThrottledError extends Error {
  readonly scope: 'account' | 'ip';
  readonly retryAfterSeconds: number;
  constructor(scope: 'account' | 'ip', retryAfterSeconds: number) {
    super(`Too many failed attempts. Try again in ${describeWait(retryAfterSeconds)}.`);
    this.name = 'LoginThrottledError';
    this.scope = scope;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const describeWait = (seconds: number): string =>
  seconds < 120 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`;

/** One password attempt: the account it names (undefined: none, e.g. a device user code) and where it came from. */
export interface PasswordAttempt {
  readonly connectorId?: string | undefined;
  readonly username?: string | undefined;
  readonly clientIp: string | undefined;
}

const recordId = (...parts: string[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('base64url');

/** The record as of `now`: a new window when there was none, the window passed, or the lockout ended. */
const current = (old: PasswordFailures | undefined, id: string, now: Date, s: BruteForceSettings): PasswordFailures => {
  const t = now.getTime();
  const over =
    old === undefined ||
    (old.lockedUntil !== undefined ? old.lockedUntil.getTime() <= t : old.windowStart.getTime() + s.windowMs <= t);
  if (!over) return old;
  return { id, failures: 0, pending: 0, windowStart: now, expiry: new Date(t + s.windowMs) };
};

/** Applies `next` to the record (creating it when absent), as a compare-and-swap that other replicas respect. */
const change = async (
  table: Table<string, PasswordFailures>,
  id: string,
  next: (old: PasswordFailures | undefined) => PasswordFailures,
): Promise<PasswordFailures> => {
  for (;;) {
    const old = await table.get(id);
    try {
      if (old === undefined) {
        const created = next(undefined);
        await table.create(created);
        return created;
      }
      return await table.update(id, next);
    } catch (err: unknown) {
      // Another replica created or removed it meanwhile: read again.
      if (!(err instanceof AlreadyExistsError) && !(err instanceof NotFoundError)) throw err;
    }
  }
};

interface Budget {
  readonly id: string;
  readonly max: number;
  /** Whether reaching `max` locks (accounts) or only refuses until the window ends (client IPs). */
  readonly locks: boolean;
}

/** Admits one attempt against a budget; the seconds to wait when it is refused. */
const admit = async (provider: Provider, budget: Budget, s: BruteForceSettings): Promise<number | undefined> => {
  const now = provider.deps.clock.now();
  let refusedFor: number | undefined;
  await change(provider.storage.passwordFailures, budget.id, (old) => {
    const c = current(old, budget.id, now, s);
    refusedFor = undefined;
    const end =
      c.lockedUntil !== undefined && c.lockedUntil > now
        ? c.lockedUntil.getTime()
        : c.failures + c.pending >= budget.max
          ? c.windowStart.getTime() + s.windowMs
          : undefined;
    if (end !== undefined) {
      refusedFor = Math.max(1, Math.ceil((end - now.getTime()) / 1000));
      return c;
    }
    return { ...c, pending: c.pending + 1 };
  });
  return refusedFor;
};

/** Answers an admitted attempt: `failed` counts it (and may lock), otherwise it only stops being pending. */
const settle = async (provider: Provider, budget: Budget, failed: boolean, s: BruteForceSettings) => {
  const now = provider.deps.clock.now();
  let locked: PasswordFailures | undefined;
  await change(provider.storage.passwordFailures, budget.id, (old) => {
    const c = current(old, budget.id, now, s);
    locked = undefined;
    const pending = Math.max(0, c.pending - 1);
    if (!failed) return { ...c, pending };
    const failures = c.failures + 1;
    if (!budget.locks || failures < budget.max || c.lockedUntil !== undefined) return { ...c, pending, failures };
    const lockedUntil = new Date(now.getTime() + s.lockoutMs);
    locked = { ...c, pending, failures, lockedUntil, expiry: lockedUntil };
    return locked;
  });
  return locked;
};

/**
 * Runs `login` (a password check) within the budgets: throws LoginThrottledError without running it when the
 * client IP or the account is over budget. `login` answers undefined for wrong credentials.
 */
export async function guardPasswordLogin<T>(
  provider: Provider,
  attempt: PasswordAttempt,
  login: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const s = provider.settings.bruteForce;
  const ip: Budget = { id: recordId('ip', attempt.clientIp ?? ''), max: s.maxFailuresPerIP, locks: false };
  const { connectorId, username } = attempt;
  const account: Budget | undefined =
    s.maxFailures > 0 && connectorId !== undefined && username !== undefined
      ? { id: recordId('account', connectorId, username.toLowerCase()), max: s.maxFailures, locks: true }
      : undefined;

  const ipWait = await admit(provider, ip, s);
  if (ipWait !== undefined) {
    provider.log.warn({ clientIp: attempt.clientIp }, 'password attempt refused: client IP over its failure budget');
    throw new LoginThrottledError('ip', ipWait);
  }
  const accountWait = account === undefined ? undefined : await admit(provider, account, s);
  if (account !== undefined && accountWait !== undefined) {
    await settle(provider, ip, false, s);
    throw new LoginThrottledError('account', accountWait);
  }
  let result: T | undefined;
  try {
    result = await login();
  } catch (err: unknown) {
    await settle(provider, ip, false, s);
    if (account !== undefined) await settle(provider, account, false, s);
    throw err;
  }
  const failed = result === undefined;
  await settle(provider, ip, failed, s);
  if (account === undefined) return result;
  if (!failed) {
    await provider.storage.passwordFailures.delete(account.id);
    return result;
  }
  const locked = await settle(provider, account, true, s);
  if (locked?.lockedUntil !== undefined) logLockout(provider, { connectorId, username }, locked.lockedUntil, s);
  return result;
}

const logLockout = (
  provider: Provider,
  who: { connectorId?: string | undefined; username?: string | undefined },
  until: Date,
  s: BruteForceSettings,
): void => {
  const fields = { connector: who.connectorId, username: who.username };
  provider.log.warn(
    { ...fields, failures: s.maxFailures, lockedUntil: until.toISOString() },
    'account locked after too many failed password attempts',
  );
  // Logged by the replica that locked it, when the lockout ends (the next attempt then starts a fresh count).
  setTimeout(() => provider.log.info(fields, 'account lockout ended'), s.lockoutMs).unref();
};
