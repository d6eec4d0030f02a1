/**
 * Upstream claims → idport identity, with Dex's rules (createIdentity in connector/oidc/oidc.go):
 * claim mapping, groups, allowedGroups, claim modifications. One deliberate difference: an upstream
 * that says `email_verified: false` is refused unless `insecureSkipEmailVerified` (Dex lets it in).
 */
import { ConnectorError } from '../connector.js';
import type { OidcConfig } from './config.js';

/** Who the user is, as derived from the upstream's claims (everything of an Identity except connectorData). */
export interface MappedUser {
  readonly userId: string;
  readonly username: string;
  readonly preferredUsername: string | undefined;
  readonly email: string | undefined;
  readonly emailVerified: boolean;
  readonly groups: readonly string[];
}

/** The config values claim mapping needs, resolved once when the connector opens. */
export interface ClaimRules {
  readonly userIDKey: string;
  readonly userNameKey: string;
  readonly preferredUsernameKey: string;
  readonly emailKey: string;
  readonly groupsKey: string;
  readonly overrideClaimMapping: boolean;
  /** Whether `email` is among the requested scopes: then an email and `email_verified` are required. */
  readonly hasEmailScope: boolean;
  readonly insecureSkipEmailVerified: boolean;
  readonly insecureEnableGroups: boolean;
  readonly allowedGroups: readonly string[];
  readonly groupsFilter: RegExp | undefined;
  readonly groupsPrefix: string;
  readonly groupsSuffix: string;
  readonly newGroupFromClaims: OidcConfig['claimModifications']['newGroupFromClaims'];
}

/** User messages for refused logins (safe to show; the thrown message has the details for the log). */
export const REFUSED = {
  emailNotVerified: 'Your email address is not verified at the identity provider.',
  notInAllowedGroups: 'You are not a member of a group that is allowed to log in here.',
  incomplete: 'The identity provider did not send the information needed to log you in.',
} as const;

/** Resolves Dex's defaults (`sub`, `name`, no extra mapping) from the config. */
export function claimRules(config: OidcConfig, scopes: readonly string[]): ClaimRules {
  const filter = config.claimModifications.filterGroupClaims.groupsFilter;
  return {
    userIDKey: config.userIDKey === '' ? 'sub' : config.userIDKey,
    userNameKey: config.userNameKey === '' ? 'name' : config.userNameKey,
    preferredUsernameKey: config.claimMapping.preferred_username,
    emailKey: config.claimMapping.email,
    groupsKey: config.claimMapping.groups,
    overrideClaimMapping: config.overrideClaimMapping,
    hasEmailScope: scopes.includes('email'),
    insecureSkipEmailVerified: config.insecureSkipEmailVerified,
    insecureEnableGroups: config.insecureEnableGroups,
    allowedGroups: config.allowedGroups,
    // The schema already refused an invalid expression.
    groupsFilter: filter === '' ? undefined : new RegExp(filter),
    groupsPrefix: config.claimModifications.modifyGroupNames.prefix,
    groupsSuffix: config.claimModifications.modifyGroupNames.suffix,
    newGroupFromClaims: config.claimModifications.newGroupFromClaims,
  };
}

type Claims = Readonly<Record<string, unknown>>;

const stringClaim = (claims: Claims, key: string): string | undefined => {
  const value = claims[key];
  return typeof value === 'string' ? value : undefined;
};

const isString = (value: unknown): value is string => typeof value === 'string';

// Dex: the standard claim wins unless it is missing (or of the wrong type) or overrideClaimMapping is set; then the mapped key is read.
interface ClaimChoice {
  readonly standardKey: string;
  readonly mappedKey: string;
  readonly override: boolean;
  readonly usable: (value: unknown) => boolean;
}

function mapped(
  claims: Claims,
  { standardKey, mappedKey, override, usable }: ClaimChoice,
): { key: string; value: unknown } {
  if ((!usable(claims[standardKey]) || override) && mappedKey !== '')
    return { key: mappedKey, value: claims[mappedKey] };
  return { key: standardKey, value: claims[standardKey] };
}

const incomplete = (message: string): ConnectorError => new ConnectorError(message, REFUSED.incomplete);

/** Applies the rules to verified claims; throws ConnectorError when the user must not log in. */
export function mapClaims(claims: Claims, rules: ClaimRules): MappedUser {
  const sub = stringClaim(claims, 'sub');
  if (sub === undefined) throw incomplete('upstream claims have no "sub"');
  const userId = stringClaim(claims, rules.userIDKey);
  if (userId === undefined) throw incomplete(`upstream claims have no string "${rules.userIDKey}" (userIDKey)`);
  const username = stringClaim(claims, rules.userNameKey);
  if (username === undefined) throw incomplete(`upstream claims have no string "${rules.userNameKey}" (userNameKey)`);

  const override = rules.overrideClaimMapping;
  const preferred = mapped(claims, {
    standardKey: 'preferred_username',
    mappedKey: rules.preferredUsernameKey,
    override,
    usable: isString,
  });
  const preferredUsername = typeof preferred.value === 'string' ? preferred.value : undefined;

  const emailClaim = mapped(claims, { standardKey: 'email', mappedKey: rules.emailKey, override, usable: isString });
  const email = typeof emailClaim.value === 'string' ? emailClaim.value : undefined;
  if (email === undefined && rules.hasEmailScope)
    throw incomplete(`upstream claims have no string "${emailClaim.key}" although the email scope was requested`);

  const emailVerified = checkEmailVerified(claims, rules);
  const groups = rules.insecureEnableGroups ? upstreamGroups(claims, rules) : [];
  const modified = groups.map((g) => rules.groupsPrefix + g + rules.groupsSuffix);
  return {
    userId,
    username,
    preferredUsername,
    email,
    emailVerified,
    groups: [...modified, ...groupsFromClaims(claims, rules)],
  };
}

function checkEmailVerified(claims: Claims, rules: ClaimRules): boolean {
  const value = claims.email_verified;
  if (value === false && !rules.insecureSkipEmailVerified) {
    throw new ConnectorError(
      'upstream says email_verified: false (set insecureSkipEmailVerified to allow it)',
      REFUSED.emailNotVerified,
    );
  }
  if (typeof value === 'boolean') return value; // with insecureSkipEmailVerified a false stays false: clients see the truth
  // Dex: a missing (or non-boolean) email_verified counts as verified when skipping, is refused when email was asked for.
  if (rules.insecureSkipEmailVerified) return true;
  if (rules.hasEmailScope) {
    throw new ConnectorError(
      'upstream claims have no boolean "email_verified" (set insecureSkipEmailVerified to treat it as verified)',
      REFUSED.emailNotVerified,
    );
  }
  return false;
}

function upstreamGroups(claims: Claims, rules: ClaimRules): string[] {
  const { key, value } = mapped(claims, {
    standardKey: 'groups',
    mappedKey: rules.groupsKey,
    override: rules.overrideClaimMapping,
    usable: Array.isArray,
  });
  const keep = (g: string): boolean => rules.groupsFilter === undefined || rules.groupsFilter.test(g);
  let groups: string[] = [];
  if (typeof value === 'string') {
    groups = keep(value) ? [value] : []; // some upstreams send a single group as a string
  } else if (Array.isArray(value)) {
    for (const item of value) {
      // Arrays of group objects (`{ name }`) are what some IdPs (e.g. Authelia, Zitadel) send.
      const name =
        typeof item === 'string' ? item : isRecord(item) && typeof item.name === 'string' ? item.name : undefined;
      if (name === undefined)
        throw incomplete(`upstream claim "${key}" is malformed: groups must be strings or objects with a "name"`);
      if (keep(name)) groups.push(name);
    }
  }
  if (rules.allowedGroups.length === 0) return groups;
  const allowed = new Set(rules.allowedGroups);
  const matching = groups.filter((g) => allowed.has(g));
  if (matching.length === 0) {
    throw new ConnectorError(
      `user is not a member of any of allowedGroups (${rules.allowedGroups.join(', ')})`,
      REFUSED.notInAllowedGroups,
    );
  }
  return matching; // Dex keeps only the allowed groups
}

// Dex's newGroupFromClaims: prefix + the string claims joined by the delimiter, appended after the upstream groups.
function groupsFromClaims(claims: Claims, rules: ClaimRules): string[] {
  const added: string[] = [];
  for (const rule of rules.newGroupFromClaims) {
    const segments = [rule.prefix];
    for (const name of rule.claims) {
      const value = stringClaim(claims, name);
      if (value === undefined) continue; // Dex skips non-string claims
      segments.push(rule.clearDelimiter && rule.delimiter !== '' ? value.replaceAll(rule.delimiter, '') : value);
    }
    if (segments.length > 1) added.push(segments.join(rule.delimiter));
  }
  return added;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
