/**
 * The `oidc` connector's config: Dex's keys and defaults (connector/oidc/oidc.go), so a Dex
 * config.yaml loads unchanged. Where Dex silently ignores a setting that cannot work, we refuse it
 * at startup instead (see the refinements at the end).
 */
import { z } from 'zod';

// Go's zero values: Dex treats an absent list, bool or string like an empty one.
const strings = z.array(z.string()).default([]);
const flag = z.boolean().default(false);
const text = z.string().default('');
const optionalUrl = z.union([z.literal(''), z.url()]).default('');

/** Dex's `claimModifications.newGroupFromClaims[]`: joins string claims into one extra group. */
export const newGroupFromClaimsSchema = z.strictObject({
  claims: strings,
  delimiter: text,
  clearDelimiter: flag,
  prefix: text,
});

/** The `oidc` connector's config (Dex's `oidc.Config`). */
export const configSchema = z
  .strictObject({
    issuer: z.url(),
    /** The issuer the upstream's discovery document and ID tokens name, when it differs from `issuer` (Azure, Oracle IDCS). */
    issuerAlias: text,
    /** Dex lets a connector used only for token exchange omit it; such a connector cannot log users in. */
    clientID: text,
    clientSecret: text,
    /** Optional for the same reason as clientID. */
    redirectURI: optionalUrl,
    providerDiscoveryOverrides: z
      .strictObject({
        tokenURL: optionalUrl,
        authURL: optionalUrl,
        jwksURL: optionalUrl,
        userInfoURL: optionalUrl,
        /** Accepted for Dex compatibility; idport does not use the upstream's device or logout endpoints yet. */
        deviceAuthURL: optionalUrl,
        endSessionURL: optionalUrl,
      })
      .prefault({}),
    /** Unset: client_secret_basic, except for hosts known to need client_secret_post (Okta), as Dex detects. */
    basicAuthUnsupported: z.boolean().optional(),
    /** Requested in addition to `openid`; Dex's default is `profile email`. Add `offline_access` (or `groups`) here. */
    scopes: strings,
    /** Removed from Dex (it refuses to start when set); accepted only as an empty list. */
    hostedDomains: strings,
    /** Extra CA certificates for the upstream's TLS: a file path, base64 of PEM, or PEM text (Dex's httpclient). */
    rootCAs: strings,
    insecureSkipVerify: flag,
    insecureSkipEmailVerified: flag,
    insecureEnableGroups: flag,
    allowedGroups: strings,
    acrValues: strings,
    getUserInfo: flag,
    userIDKey: text,
    userNameKey: text,
    /** `prompt` sent when the client asked for offline access; Dex's default is `consent`, "" sends none. */
    promptType: z.string().optional(),
    /** "" detects from the upstream's metadata (S256 preferred); `S256` or `plain` forces a method. */
    pkceChallenge: z.enum(['', 'S256', 'plain']).default(''),
    overrideClaimMapping: flag,
    claimMapping: z
      .strictObject({
        preferred_username: text,
        email: text,
        groups: text,
      })
      .prefault({}),
    claimModifications: z
      .strictObject({
        newGroupFromClaims: z.array(newGroupFromClaimsSchema).default([]),
        filterGroupClaims: z.strictObject({ groupsFilter: text }).prefault({}),
        modifyGroupNames: z.strictObject({ prefix: text, suffix: text }).prefault({}),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.hostedDomains.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['hostedDomains'],
        message: 'support for hostedDomains was removed from the oidc connector (as in Dex); use the google connector',
      });
    }
    // Dex ignores allowedGroups unless groups are enabled, which lets everyone in; refuse that instead.
    if (config.allowedGroups.length > 0 && !config.insecureEnableGroups) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowedGroups'],
        message:
          'allowedGroups needs insecureEnableGroups: true (without it Dex ignores allowedGroups and lets every user in)',
      });
    }
    // Dex logs an invalid regexp and then keeps every group; a filter that filters nothing is refused here.
    const filter = config.claimModifications.filterGroupClaims.groupsFilter;
    if (filter !== '') {
      try {
        new RegExp(filter);
      } catch (err: unknown) {
        ctx.addIssue({
          code: 'custom',
          path: ['claimModifications', 'filterGroupClaims', 'groupsFilter'],
          message: `invalid regular expression: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }
  });

/** The parsed `oidc` connector config, with Dex's defaults filled in. */
export type OidcConfig = z.infer<typeof configSchema>;
