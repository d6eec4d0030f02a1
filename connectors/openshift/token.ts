/**
 * Connector data in the format Dex stores for OpenShift: Go's oauth2.Token as JSON
 * (`access_token`, `token_type`, `refresh_token`, `expiry`), so sessions moved from Dex keep refreshing.
 */
import { z } from 'zod';

import type { OAuth2Token } from '../oauth/oauth2.js';

const goTokenSchema = z.looseObject({
  access_token: z.string().default(''),
  token_type: z.string().default(''),
  refresh_token: z.string().default(''),
  expiry: z.string().optional(),
});

// Go writes an unset time as year 1.
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Go's json.Marshal of an oauth2.Token. */
export function encodeGoToken(token: OAuth2Token): Uint8Array {
  const data: Record<string, string> = { access_token: token.accessToken, token_type: token.tokenType };
  if (token.refreshToken !== undefined) data.refresh_token = token.refreshToken;
  data.expiry = token.expiry === undefined ? GO_ZERO_TIME : token.expiry.toISOString();
  return encoder.encode(JSON.stringify(data));
}

/** The token in Dex's connector data; undefined when there is none or it is unreadable. */
export function decodeGoToken(bytes: Uint8Array | undefined): OAuth2Token | undefined {
  if (bytes === undefined || bytes.length === 0) return undefined;
  let parsed: z.infer<typeof goTokenSchema>;
  try {
    parsed = goTokenSchema.parse(JSON.parse(decoder.decode(bytes)));
  } catch {
    return undefined;
  }
  if (parsed.access_token === '' && parsed.refresh_token === '') return undefined;
  const expiry = parsed.expiry === undefined ? undefined : new Date(parsed.expiry);
  const expires = expiry !== undefined && !Number.isNaN(expiry.getTime()) && expiry.getUTCFullYear() > 1;
  return {
    accessToken: parsed.access_token,
    tokenType: parsed.token_type === '' ? 'Bearer' : parsed.token_type,
    refreshToken: parsed.refresh_token === '' ? undefined : parsed.refresh_token,
    expiry: expires ? expiry : undefined,
    raw: parsed,
  };
}
