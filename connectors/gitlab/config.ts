/**
 * The `gitlab` connector's config: Dex's keys and defaults (connector/gitlab/gitlab.go), so a Dex
 * config.yaml loads unchanged.
 */
import { z } from 'zod';

const flag = z.boolean().default(false);

/** The `gitlab` connector's config (Dex's `gitlab.Config`). */
export const configSchema = z
  .strictObject({
    /** GitLab instance (default https://gitlab.com). */
    baseURL: z
      .string()
      .default('https://gitlab.com')
      .refine((value) => URL.canParse(value), { error: 'baseURL must be a URL' }),
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** Must equal idport's callback URL (`<issuer>/callback`), as registered with the GitLab application. */
    redirectURI: z.url(),
    /** Only members of these groups (full paths) may log in, and only these go into the groups claim. */
    groups: z.array(z.string()).default([]),
    /** The username (renamable) instead of GitLab's numeric id as the user id in `sub`. */
    useLoginAsID: flag,
    /** Adds `path:owner`, `path:maintainer` or `path:developer` (more levels with inheritedGroups). */
    getGroupsPermission: flag,
    /** Groups the user reaches through a parent group too (needs the read_api scope). */
    inheritedGroups: flag,
    /** Extra CA for the GitLab host: base64 of PEM (Go's []byte in JSON). */
    rootCAData: z.string().default(''),
  })
  .superRefine((config, ctx) => {
    if (
      config.rootCAData !== '' &&
      !/-----BEGIN CERTIFICATE-----/.test(Buffer.from(config.rootCAData, 'base64').toString())
    )
      ctx.addIssue({
        code: 'custom',
        path: ['rootCAData'],
        message: 'gitlab: invalid rootCAData (base64 of a PEM certificate)',
      });
  });

/** The parsed `gitlab` connector config, with Dex's defaults filled in. */
export type GitlabConfig = z.infer<typeof configSchema>;
