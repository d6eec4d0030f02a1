/**
 * The `local` connector: Dex's password database (`enablePasswordDB`) and `staticPasswords`, behind
 * one storage view where static passwords overlay the database. Follows Dex's
 * server/connectors/password.go, plus equal work for unknown users (see `login`).
 */
import { randomBytes } from 'node:crypto';

import type { Password, Table } from '../../storage/storage.js';
import {
  ConnectorError,
  type ConnectorDeps,
  type Identity,
  type PasswordConnector,
  type Refreshable,
} from '../connector.js';
import { compareBcrypt, hashBcrypt, type BcryptCompare } from './bcrypt.js';

export type { BcryptCompare } from './bcrypt.js';

/** Test seams for the local connector; production code passes nothing. */
export interface LocalOptions {
  /** Checks a password against a hash; tests observe which hash the work is done against. */
  readonly compare?: BcryptCompare;
  /** Hashes a random secret for the dummy comparisons. */
  readonly hash?: (password: string, cost: number) => Promise<string>;
}

/** The bcrypt costs accepted at login: Dex's floor (bcrypt.DefaultCost) and ceiling (passwords.upBoundCost). */
export const MIN_BCRYPT_COST = 10;
/** Above this a single login costs seconds of CPU, so a hash from config could be used to stall the server. */
export const MAX_BCRYPT_COST = 16;

/** How long the highest cost in use is trusted before the passwords are listed again. */
export const COST_SURVEY_TTL_MS = 60_000;

// $2a$ (Go, Dex), $2b$ (OpenBSD) and $2y$ (PHP, htpasswd) are the same algorithm for our purposes.
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** The cost of a bcrypt hash, or undefined when it is not one. */
export function bcryptCost(hash: string): number | undefined {
  const match = BCRYPT_HASH.exec(hash);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

// Dex's resolvePasswordName: the display name when set, else the username.
const usernameOf = (p: Password): string => (p.name !== undefined && p.name !== '' ? p.name : p.username);
// Dex's resolvePasswordEmailVerified: verified unless the entry says otherwise.
const emailVerifiedOf = (p: Password): boolean => p.emailVerified ?? true;

/** Re-reads the user by email, as Dex does; a removed user, or an email now someone else's, ends the refresh. */
async function refreshLocal(passwords: Pick<Table<string, Password>, 'get'>, identity: Identity): Promise<Identity> {
  // The email is the key, so it is what a refresh looks up (as Dex does).
  if (identity.email === undefined) throw new ConnectorError('local identity has no email to refresh by');
  const entry = await passwords.get(identity.email);
  if (entry === undefined) throw new ConnectorError('user not found', 'Your account no longer exists.');
  // The user was removed and someone else now has the same email: not the same account.
  if (entry.userId !== identity.userId) {
    throw new ConnectorError('user not found: email now belongs to another user id', 'Your account no longer exists.');
  }
  // The email is the identifier and stays; everything else may have been edited since login.
  return {
    ...identity,
    username: usernameOf(entry),
    preferredUsername: entry.preferredUsername,
    emailVerified: emailVerifiedOf(entry),
    groups: [...(entry.groups ?? [])],
  };
}

/** Clamps a cost into the range logins accept. */
const usableCost = (cost: number): number => Math.min(MAX_BCRYPT_COST, Math.max(MIN_BCRYPT_COST, cost));

/**
 * Hashes of random secrets nobody knows, one per cost, compared against when the user is absent or their hash is
 * unusable. An unknown email costs the highest cost in use (listed at most once a minute, as the password database
 * can change), and an entry with an out-of-range cost costs its own cost clamped to the accepted range.
 */
function dummyHashes(
  passwords: Pick<Table<string, Password>, 'list'>,
  deps: ConnectorDeps,
  hash: (password: string, cost: number) => Promise<string>,
) {
  const byCost = new Map<number, Promise<string>>();
  let survey: { at: number; highest: Promise<number> } | undefined;

  const hashAt = (cost: number): Promise<string> => {
    let pending = byCost.get(cost);
    if (pending === undefined) {
      pending = hash(randomBytes(32).toString('base64url'), cost);
      // A failed hash is not kept, so the next login tries again.
      pending.catch(() => byCost.delete(cost));
      byCost.set(cost, pending);
    }
    return pending;
  };

  const highestCostInUse = (): Promise<number> => {
    const now = deps.now().getTime();
    if (survey === undefined || now - survey.at >= COST_SURVEY_TTL_MS) {
      const highest = passwords.list().then((entries) => {
        const costs = entries
          .map((p) => bcryptCost(p.hash))
          .filter((c): c is number => c !== undefined && c >= MIN_BCRYPT_COST && c <= MAX_BCRYPT_COST);
        return Math.max(MIN_BCRYPT_COST, ...costs);
      });
      highest.catch(() => (survey = undefined));
      survey = { at: now, highest };
    }
    return survey.highest;
  };

  return {
    /** The dummy for an entry whose hash has `cost` (undefined: no entry, or not a bcrypt hash). */
    async standingInFor(cost: number | undefined): Promise<string> {
      return hashAt(cost === undefined ? await highestCostInUse() : usableCost(cost));
    },
  };
}

/** The local password connector over a passwords view (static passwords overlaying the password DB). */
export function openLocal(
  passwords: Pick<Table<string, Password>, 'get' | 'list'>,
  deps: ConnectorDeps,
  options: LocalOptions = {},
): PasswordConnector & Refreshable {
  const log = deps.log.child({ connector: 'local' });
  const compare = options.compare ?? compareBcrypt;
  const dummy = dummyHashes(passwords, deps, options.hash ?? hashBcrypt);

  return {
    kind: 'password',

    prompt: () => 'Email Address',

    async login(_scopes, email, password) {
      // The table compares emails case-insensitively; a storage failure propagates (the backend failed).
      const entry = await passwords.get(email);

      const cost = entry === undefined ? undefined : bcryptCost(entry.hash);
      const isUsable = entry !== undefined && cost !== undefined && cost >= MIN_BCRYPT_COST && cost <= MAX_BCRYPT_COST;
      if (entry !== undefined && !isUsable) {
        // Dex refuses these too (passwords.CheckCost). Log the user id, not the email, to find the entry.
        log.error(
          { userId: entry.userId, cost, allowed: `${MIN_BCRYPT_COST}-${MAX_BCRYPT_COST}` },
          cost === undefined ? 'password entry does not hold a bcrypt hash' : 'password hash cost out of range',
        );
      }

      // Always exactly one bcrypt comparison, at the cost a real one would have, so response time does not tell an
      // unknown email (or an unusable entry) from a wrong password.
      const against = isUsable ? entry.hash : await dummy.standingInFor(cost);
      const matches = await compare(password, against);
      // The empty-password check comes after the comparison so it costs the same as any wrong password.
      if (!isUsable || !matches || password === '') return undefined;

      return {
        userId: entry.userId,
        username: usernameOf(entry),
        preferredUsername: entry.preferredUsername,
        email: entry.email,
        emailVerified: emailVerifiedOf(entry),
        groups: [...(entry.groups ?? [])],
      } satisfies Identity;
    },

    refresh: (_scopes, identity) => refreshLocal(passwords, identity),
  };
}
