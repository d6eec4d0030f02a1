/** The `authproxy` connector's config schema: zod only, so validating a config never loads the connector. */
import { z } from 'zod';

const text = z.string().default('');

/** The `authproxy` connector's config (Dex's `authproxy.Config`); an empty name means Dex's default header. */
export const configSchema = z.strictObject({
  /** Default X-Remote-User-Id; without it the user id is the X-Remote-User value. */
  userIDHeader: text,
  /** Default X-Remote-User: required; the username, and the fallback for the others. */
  userHeader: text,
  /** Default X-Remote-User-Name: preferred_username. */
  userNameHeader: text,
  /** Default X-Remote-User-Email. */
  emailHeader: text,
  /** Default X-Remote-Group: groups, split at `groupHeaderSeparator` (default ","). */
  groupHeader: text,
  groupHeaderSeparator: text,
  /** Groups every user gets, after the header's. */
  staticGroups: z.array(z.string()).nullable().default([]),
});

/** The parsed `authproxy` connector config. */
export type AuthProxyConfig = z.infer<typeof configSchema>;
