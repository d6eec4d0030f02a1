/**
 * The `local` connector: Dex's password database (`enablePasswordDB`) and `staticPasswords`, behind
 * one storage view where static passwords overlay the database. Follows Dex's
 * server/connectors/password.go, plus equal work for unknown users (see `login`).
 */
import bcrypt from 'bcryptjs';

import type { Password, Table } from '../../storage/storage.js';
import {
  ConnectorError,
  type ConnectorDeps,
  type Identity,
  type PasswordConnector,
  type Refreshable,
} from '../connector.js';

/** Checks a password against a bcrypt hash; injectable so tests can observe that the work is done. */
export type BcryptCompare = (password: string, hash: string) => Promise<boolean>;

/** Test seams for the local connector; production code passes nothing. */
export interface LocalOptions {
  readonly compare?: BcryptCompare;
}

/** The bcrypt costs accepted at login: Dex's floor (bcrypt.DefaultCost) and ceiling (passwords.upBoundCost). */
export const MIN_BCRYPT_COST = 10;
/** Above this a single login costs seconds of CPU, so a hash from config could be used to stall the server. */
export const MAX_BCRYPT_COST = 16;

/**
 * A cost-10 hash of a random string nobody knows. Compared against when the user is absent or their
 * hash is unusable, so those answers take as long as a wrong password and do not reveal which
 * emails exist. Cost 10 matches Dex's minimum and the usual static-password hash; an entry hashed
 * at a higher cost still answers a wrong password more slowly than an unknown email would.
 */
export const DUMMY_HASH = '$2b$10$95MS.6yF4X7/zb2PKBYKtOTjJFSfF8Iz9EZhD8koUPteIrvlOAmwy';

// $2a$ (Go, Dex), $2b$ (OpenBSD, bcryptjs) and $2y$ (htpasswd) are the same algorithm for our purposes.
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

/** The local password connector over a passwords view (static passwords overlaying the password DB). */
export function openLocal(
  passwords: Pick<Table<string, Password>, 'get'>,
  deps: ConnectorDeps,
  options: LocalOptions = {},
): PasswordConnector & Refreshable {
  const log = deps.log.child({ connector: 'local' });
  const compare: BcryptCompare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));

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

      // Always exactly one bcrypt comparison, so response time does not tell an unknown email (or an
      // unusable entry) from a wrong password.
      const matches = await compare(password, isUsable ? entry.hash : DUMMY_HASH);
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
