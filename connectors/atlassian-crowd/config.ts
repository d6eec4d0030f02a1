/** The `atlassian-crowd` connector's config: Dex's keys (connector/atlassiancrowd/atlassiancrowd.go). */
import { z } from 'zod';

/** The `atlassian-crowd` connector's config (Dex's `atlassiancrowd.Config`). */
export const configSchema = z.strictObject({
  /** Crowd's base URL including its context path, e.g. https://crowd.example.com/crowd. */
  baseURL: z.url(),
  /** The Crowd application's name and password (HTTP Basic on every REST call). */
  clientID: z.string().min(1),
  clientSecret: z.string().min(1),
  /** When set, only members (nested included) of one of these groups may log in, and only these become groups. */
  groups: z.array(z.string()).nullable().default([]),
  /** `key`, `name` or `email` as preferred_username; anything else leaves it empty (Dex warns). */
  preferredUsernameField: z.string().default(''),
  /** The label of the username field; default "Username". */
  usernamePrompt: z.string().default(''),
});

/** The parsed `atlassian-crowd` connector config. */
export type CrowdConfig = z.infer<typeof configSchema>;
