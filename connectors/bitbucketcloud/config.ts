/**
 * The `bitbucket-cloud` connector's config: Dex's keys (connector/bitbucketcloud/bitbucketcloud.go), so a
 * Dex config.yaml loads unchanged, plus `baseURL` and `apiURL`, which Dex hard-codes, so the connector can
 * be pointed at a proxy or a test server.
 */
import { z } from 'zod';

const url = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((value) => URL.canParse(value), { error: 'must be a URL' });

/** The `bitbucket-cloud` connector's config (Dex's `bitbucketcloud.Config`). */
export const configSchema = z.strictObject({
  clientID: z.string().min(1),
  clientSecret: z.string().min(1),
  /** idport's callback URL (`<issuer>/callback`); Bitbucket sends users to the consumer's registered callback URL. */
  redirectURI: z.url(),
  /** Only members of these workspaces may log in, and only these go into the groups claim. */
  teams: z.array(z.string()).default([]),
  /** Deprecated in Dex and without effect (Bitbucket removed the 1.0 API it used); accepted with a warning. */
  includeTeamGroups: z.boolean().default(false),
  /** Adds `workspace:permission` (owner, collaborator, member) for each workspace. */
  getWorkspacePermissions: z.boolean().default(false),
  /** idport: Bitbucket's web origin for the OAuth flow (default https://bitbucket.org). */
  baseURL: url('https://bitbucket.org'),
  /** idport: Bitbucket's REST API (default https://api.bitbucket.org/2.0). */
  apiURL: url('https://api.bitbucket.org/2.0'),
});

/** The parsed `bitbucket-cloud` connector config, with Dex's defaults filled in. */
export type BitbucketConfig = z.infer<typeof configSchema>;
