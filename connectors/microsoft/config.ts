/**
 * The `microsoft` connector's config: Dex's keys and defaults (connector/microsoft/microsoft.go), so a
 * Dex config.yaml loads unchanged. The check Dex makes in Open() (groupNameFormat) is part of the schema.
 */
import { z } from 'zod';

const flag = z.boolean().default(false);
const text = z.string().default('');

/** The `microsoft` connector's config (Dex's `microsoft.Config`). */
export const configSchema = z
  .strictObject({
    clientID: z.string().min(1),
    clientSecret: text,
    /** A file holding a client assertion JWT (workload identity federation), sent instead of the secret. */
    clientAssertion: text,
    /** Must equal idport's callback URL (`<issuer>/callback`), as registered with the app. */
    redirectURI: z.url(),
    /** `common` (default), `consumers`, `organizations`, or a tenant id or domain; groups need a tenant. */
    tenant: text,
    /** Only security groups (getMemberGroups securityEnabledOnly). */
    onlySecurityGroups: flag,
    /** Users must be in at least one of these groups (names or ids, after groupNameFormat). */
    groups: z.array(z.string()).default([]),
    /** `name` (default): group display names; `id`: group object ids. */
    groupNameFormat: z.enum(['', 'name', 'id'], { error: 'invalid groupNameFormat: must be name or id' }).default(''),
    /** Only the configured groups go into the groups claim. */
    useGroupsAsWhitelist: flag,
    emailToLowercase: flag,
    /** Resolve group names 1000 ids per request (Graph's cap) instead of all at once. */
    batchGroupLookups: flag,
    /** Microsoft identity platform (default https://login.microsoftonline.com). */
    apiURL: text,
    /** Microsoft Graph (default https://graph.microsoft.com). */
    graphURL: text,
    promptType: text,
    domainHint: text,
    /** Scopes instead of the default user.read. */
    scopes: z.array(z.string()).default([]),
    /** `name`, `email`, `mailNickname` or `onPremisesSamAccountName`; empty: no preferred_username. */
    preferredUsernameField: text,
  })
  .superRefine((config, ctx) => {
    if (config.clientSecret === '' && config.clientAssertion === '')
      ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'clientSecret or clientAssertion is required' });
    for (const key of ['apiURL', 'graphURL'] as const) {
      if (config[key] !== '' && !URL.canParse(config[key]))
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} must be a URL` });
    }
  });

/** The parsed `microsoft` connector config, with Dex's defaults filled in. */
export type MicrosoftConfig = z.infer<typeof configSchema>;
