/**
 * The generic `oauth` connector's config: Dex master's keys and defaults (connector/oauth/oauth.go),
 * so a Dex config.yaml loads unchanged. Dex checks none of the URLs at startup and fails at the first
 * login instead; here they are required, so a typo is reported by check-config.
 */
import { z } from 'zod';

const text = z.string().default('');

/** Dex's `claimMapping`: which userinfo member holds each claim. */
const claimMappingSchema = z.strictObject({
  userNameKey: text,
  preferredUsernameKey: text,
  groupsKey: text,
  emailKey: text,
  emailVerifiedKey: text,
});

/** The `oauth` connector's config (Dex's `oauth.Config`). */
export const configSchema = z.strictObject({
  clientID: z.string().min(1),
  clientSecret: text,
  /** Must equal idport's callback URL (`<issuer>/callback`), as registered at the provider. */
  redirectURI: z.url(),
  tokenURL: z.url(),
  authorizationURL: z.url(),
  userInfoURL: z.url(),
  /** Scopes asked of the provider; Dex sends none by default. */
  scopes: z.array(z.string()).default([]),
  /** Extra CAs for the provider: file paths, base64 of PEM, or PEM text (Dex's httpclient). */
  rootCAs: z.array(z.string()).default([]),
  insecureSkipVerify: z.boolean().default(false),
  /** The userinfo member that is the user id (and so `sub`); default `id`. */
  userIDKey: text,
  // Dex's documented example has `claimMapping:` with every entry commented out, which YAML reads as null.
  claimMapping: z.preprocess((value) => value ?? {}, claimMappingSchema),
  /** In Dex's documentation but read by no Dex version: accepted (with a warning) so such configs load. */
  insecureSkipEmailVerified: z.boolean().optional(),
});

/** The parsed `oauth` connector config. */
export type OAuthConfig = z.infer<typeof configSchema>;

/** The member names after Dex's defaults. */
export interface ClaimKeys {
  readonly userId: string;
  readonly userName: string;
  readonly preferredUsername: string;
  readonly groups: string;
  readonly email: string;
  readonly emailVerified: string;
}

const or = (value: string, fallback: string): string => (value === '' ? fallback : value);

/** Dex's defaults: id, user_name, preferred_username, groups, email, email_verified. */
export function claimKeysOf(config: OAuthConfig): ClaimKeys {
  const m = config.claimMapping;
  return {
    userId: or(config.userIDKey, 'id'),
    userName: or(m.userNameKey, 'user_name'),
    preferredUsername: or(m.preferredUsernameKey, 'preferred_username'),
    groups: or(m.groupsKey, 'groups'),
    email: or(m.emailKey, 'email'),
    emailVerified: or(m.emailVerifiedKey, 'email_verified'),
  };
}
