/**
 * The `gitea` connector's config: Dex's keys and defaults (connector/gitea/gitea.go), so a Dex
 * config.yaml loads unchanged.
 */
import { z } from 'zod';

const flag = z.boolean().default(false);

/** One entry of Dex's `orgs`: members of the org (or of one of `teams`) may log in. */
export const orgSchema = z.strictObject({
  name: z.string().min(1),
  teams: z.array(z.string()).default([]),
});

/** The `gitea` connector's config (Dex's `gitea.Config`). */
export const configSchema = z.strictObject({
  /** Gitea (or Forgejo) instance (default https://gitea.com). */
  baseURL: z
    .string()
    .default('https://gitea.com')
    .refine((value) => URL.canParse(value), { error: 'baseURL must be a URL' }),
  clientID: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Must equal idport's callback URL (`<issuer>/callback`), as registered with the Gitea application. */
  redirectURI: z.url(),
  /** Only members of these orgs or teams may log in; their `org` and `org:team` groups are reported. */
  orgs: z.array(orgSchema).default([]),
  /** Without orgs: every `org` and `org:team` of the user as groups. */
  loadAllGroups: flag,
  /** The login (renamable) instead of Gitea's numeric id as the user id in `sub`. */
  useLoginAsID: flag,
});

/** The parsed `gitea` connector config, with Dex's defaults filled in. */
export type GiteaConfig = z.infer<typeof configSchema>;
