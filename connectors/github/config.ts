/**
 * The `github` connector's config: Dex's keys and defaults (connector/github/github.go), so a Dex
 * config.yaml loads unchanged. The checks Dex makes in Open() are refinements here, so they are
 * reported with the other config errors at startup.
 */
import { z } from 'zod';

// Go's zero values: Dex treats an absent list, bool or string like an empty one.
const flag = z.boolean().default(false);
const text = z.string().default('');

/** One entry of Dex's `orgs`: users must be in the org, and in one of `teams` when it is not empty. */
export const orgSchema = z.strictObject({
  /** The organization's login on GitHub. */
  name: z.string().min(1),
  /** Team names (or slugs, with teamNameField) of which the user must be in at least one; empty lets in every member. */
  teams: z.array(z.string()).default([]),
});

/** One required org with its teams. */
export type GithubOrg = z.infer<typeof orgSchema>;

/**
 * `hostName` may be an explicit http URL of a loopback host (an idport addition, for a GitHub
 * Enterprise stand-in on this machine: local development and tests). Nothing else may carry a
 * scheme, so production traffic to GitHub is always https, as in Dex.
 */
export const LOOPBACK_HTTP_HOST = /^http:\/\/(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/;

/** The `github` connector's config (Dex's `github.Config`). */
export const configSchema = z
  .strictObject({
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** Must equal idport's callback URL (`<issuer>/callback`), as registered with the GitHub OAuth app. */
    redirectURI: z.url(),
    /** Deprecated in Dex (a startup warning): only the user's teams in this org become groups; nobody is refused. */
    org: text,
    /** Only members of these orgs (and, where listed, their teams) may log in; their teams become `org:team` groups. */
    orgs: z.array(orgSchema).default([]),
    /** GitHub Enterprise host (`github.example.com[:port]`): web flow at https://HOST, API at https://HOST/api/v3. */
    hostName: text,
    /** Extra CA for the GitHub Enterprise host: a file path, base64 of PEM, or PEM text (Dex's httpclient). */
    rootCA: text,
    /** What a team is called in groups: `name` (the default), `slug`, or `both`. */
    teamNameField: z.enum(['', 'name', 'slug', 'both']).default(''),
    /** Without orgs, a client asking for `groups` gets all the user's orgs and `org:team` groups. */
    loadAllGroups: flag,
    /** The user's login (renamable!) instead of GitHub's numeric id as the user id in `sub`. */
    useLoginAsID: flag,
    /** Prefer a verified email in this domain (`*` matches one label, e.g. `*.example.com`) over the primary one. */
    preferredEmailDomain: text,
  })
  .superRefine((config, ctx) => {
    if (config.org !== '' && config.orgs.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['org'],
        message: "cannot use both 'org' and 'orgs' fields simultaneously (as in Dex); move org into orgs",
      });
    }
    if (config.hostName.includes('/') && !LOOPBACK_HTTP_HOST.test(config.hostName)) {
      ctx.addIssue({
        code: 'custom',
        path: ['hostName'],
        message:
          'invalid hostname: hostname cannot contain `/` (write github.example.com; only a loopback host may be given as http://127.0.0.1:PORT)',
      });
    }
    if (config.rootCA !== '' && config.hostName === '') {
      ctx.addIssue({
        code: 'custom',
        path: ['rootCA'],
        message: 'hostName is required for a root certificate (rootCA is for GitHub Enterprise only)',
      });
    }
    if (config.preferredEmailDomain.endsWith('*')) {
      ctx.addIssue({
        code: 'custom',
        path: ['preferredEmailDomain'],
        message: 'invalid preferredEmailDomain: glob pattern cannot end with "*"',
      });
    }
  });

/** The parsed `github` connector config, with Dex's defaults filled in. */
export type GithubConfig = z.infer<typeof configSchema>;
