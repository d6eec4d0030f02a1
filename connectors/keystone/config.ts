/** The `keystone` connector's config: Dex's keys (connector/keystone/keystone.go), checked at startup. */
import { z } from 'zod';

/** The `keystone` connector's config (Dex's `keystone.Config`). */
export const configSchema = z.strictObject({
  /** The domain users log in to: an id when it is a UUID or "default", else a name. */
  domain: z.string().min(1),
  /** Keystone's base URL, without the /v3 suffix (e.g. http://keystone.example.com:5000). */
  keystoneHost: z.url(),
  /** An admin user of that domain: refresh checks with its token that the user still exists. */
  keystoneUsername: z.string().min(1),
  keystonePassword: z.string().min(1),
});

/** The parsed `keystone` connector config. */
export type KeystoneConfig = z.infer<typeof configSchema>;

// The spellings Go's uuid.Parse (which Dex uses) accepts: plain, urn:uuid:, {braced}, or 32 hex digits.
const UUID = /^(?:urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BRACED_UUID = /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i;
const HEX_UUID = /^[0-9a-f]{32}$/i;

/** How Dex names the domain in a password authentication: `{id}` for a UUID or "default", else `{name}`. */
export function domainOf(domain: string): { id: string } | { name: string } {
  const isId = domain === 'default' || UUID.test(domain) || BRACED_UUID.test(domain) || HEX_UUID.test(domain);
  return isId ? { id: domain } : { name: domain };
}
