/** The `linkedin` connector's config schema: zod only, so validating a config never loads the connector. */
import { z } from 'zod';

/** The `linkedin` connector's config (Dex's `linkedin.Config`, plus the two URLs). */
export const configSchema = z.strictObject({
  clientID: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Must equal idport's callback URL (`<issuer>/callback`). */
  redirectURI: z.url(),
  /** idport addition: the web flow's origin; default https://www.linkedin.com. */
  baseURL: z.url().default('https://www.linkedin.com'),
  /** idport addition: the REST API base; default https://api.linkedin.com/v2. */
  apiURL: z.url().default('https://api.linkedin.com/v2'),
});

/** The parsed `linkedin` connector config. */
export type LinkedinConfig = z.infer<typeof configSchema>;
