/**
 * The `google` connector's config: Dex's keys and defaults (connector/google/google.go), so a Dex
 * config.yaml loads unchanged, plus `issuer`, `adminAPIURL`, `iamCredentialsURL` and `delegationTokenURL`,
 * which Dex hard-codes, so the connector can be pointed at a proxy or a test server. Dex's checks in Open() are refinements here.
 */
import { z } from 'zod';

const text = z.string().default('');
const url = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((value) => URL.canParse(value), { error: 'must be a URL' });

/** The `google` connector's config (Dex's `google.Config`). */
export const configSchema = z
  .strictObject({
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** Must equal idport's callback URL (`<issuer>/callback`), as registered with the OAuth client. */
    redirectURI: z.url(),
    /** Scopes after `openid`; default `profile email`. */
    scopes: z.array(z.string()).default([]),
    /** Only users of these Workspace domains (the ID token's `hd`) may log in. */
    hostedDomains: z.array(z.string()).default([]),
    /** Only members of these groups (group emails) may log in; needs the Admin SDK service account. */
    groups: z.array(z.string()).default([]),
    /** Service account key file (JSON) for the Admin SDK Directory API; else application default credentials. */
    serviceAccountFilePath: text,
    /** Deprecated in Dex (a startup warning): the same as domainToAdminEmail `*`. */
    adminEmail: text,
    /** Workspace domain → super-admin email the service account impersonates; `*` for any other domain. */
    domainToAdminEmail: z.record(z.string(), z.string()).default({}),
    /** Also the groups the user's groups are members of. */
    fetchTransitiveGroupMembership: z.boolean().default(false),
    /** `prompt` with offline access; default `consent`. */
    promptType: z.string().optional(),
    /** idport: Google's issuer, for its discovery document (default https://accounts.google.com). */
    issuer: url('https://accounts.google.com'),
    /** idport: base of the Admin SDK API (default https://admin.googleapis.com). */
    adminAPIURL: url('https://admin.googleapis.com'),
    /** idport: base of the IAM Credentials API, for credentials from the metadata server (Dex hard-codes it). */
    iamCredentialsURL: url('https://iamcredentials.googleapis.com'),
    /** idport: Google's OAuth 2.0 token endpoint, for credentials from the metadata server (Dex hard-codes it). */
    delegationTokenURL: url('https://oauth2.googleapis.com/token'),
  })
  .superRefine((config, ctx) => {
    const admins = Object.keys(config.domainToAdminEmail).length + (config.adminEmail === '' ? 0 : 1);
    if (config.serviceAccountFilePath !== '' && admins === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['domainToAdminEmail'],
        message: 'directory service requires the domainToAdminEmail option to be configured (as in Dex)',
      });
    if (config.groups.length > 0 && admins === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['groups'],
        message:
          'groups can only be checked through the Admin SDK: set domainToAdminEmail (Dex would let every user in)',
      });
  });

/** The parsed `google` connector config, with Dex's defaults filled in. */
export type GoogleConfig = z.infer<typeof configSchema>;
