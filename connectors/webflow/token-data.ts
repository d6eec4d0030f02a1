/**
 * What the web-flow connectors keep for refresh, in Dex's format (`{"accessToken", "refreshToken",
 * "expiry"}`, the expiry as Go writes a time.Time), so refresh tokens issued by Dex keep working after a
 * move; and the rule Dex's oauth2 package applies before each use: a token that expires within ten
 * seconds is renewed with its refresh token first.
 */
import { z } from 'zod';

import { ConnectorError } from '../connector.js';
import { type OAuthToken, UpstreamRequestError, type WebFlowClient } from './client.js';

const connectorDataSchema = z.object({
  accessToken: z.string().default(''),
  refreshToken: z.string().default(''),
  expiry: z.string().optional(),
});

// Go's zero time.Time, which Dex writes for a token without expiry.
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
// Go's oauth2 renews a token this long before it expires.
const EXPIRY_MARGIN_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stored upstream token (the access token may be empty: then only the refresh token is usable). */
export type StoredToken = Pick<OAuthToken, 'accessToken' | 'refreshToken' | 'expiry'>;

/** Dex's connector data for a token; `withExpiry: false` writes only the two tokens (Dex's GitLab format). */
export function encodeTokenData(token: StoredToken, withExpiry = true): Uint8Array {
  const data: Record<string, string> = { accessToken: token.accessToken, refreshToken: token.refreshToken ?? '' };
  if (withExpiry) data.expiry = token.expiry?.toISOString() ?? GO_ZERO_TIME;
  return encoder.encode(JSON.stringify(data));
}

/** Reads Dex's connector data; a ConnectorError (the session ends) when there is nothing usable. */
export function decodeTokenData(bytes: Uint8Array | undefined, sessionEnded: string): StoredToken {
  if (bytes === undefined || bytes.length === 0)
    throw new ConnectorError('no upstream access token found (the login had no offline access)', sessionEnded);
  let data: z.infer<typeof connectorDataSchema>;
  try {
    data = connectorDataSchema.parse(JSON.parse(decoder.decode(bytes)));
  } catch (err: unknown) {
    throw new ConnectorError('connector data of this session is unreadable', sessionEnded, { cause: err });
  }
  if (data.accessToken === '' && data.refreshToken === '')
    throw new ConnectorError('no refresh or access token found', sessionEnded);
  const expiry = data.expiry === undefined ? undefined : new Date(data.expiry);
  // Go's zero time (year 1) and anything unreadable mean "does not expire".
  const expires = expiry !== undefined && !Number.isNaN(expiry.getTime()) && expiry.getUTCFullYear() > 1;
  return {
    accessToken: data.accessToken,
    refreshToken: data.refreshToken === '' ? undefined : data.refreshToken,
    expiry: expires ? expiry : undefined,
  };
}

/**
 * The token to call the API with: the stored one while it is valid (Go's Token.Valid), else a new one
 * from the refresh token, keeping the old refresh token when the provider does not rotate it.
 */
export async function usableToken(
  client: WebFlowClient,
  token: StoredToken,
  now: Date,
): Promise<{ token: StoredToken; renewed: boolean }> {
  const expired = token.expiry !== undefined && token.expiry.getTime() - EXPIRY_MARGIN_MS <= now.getTime();
  if (token.accessToken !== '' && !expired) return { token, renewed: false };
  if (token.refreshToken === undefined)
    throw new UpstreamRequestError('the access token expired and there is no refresh token', 401, false);
  const fresh = await client.token({ refreshToken: token.refreshToken }, now);
  return { token: { ...fresh, refreshToken: fresh.refreshToken ?? token.refreshToken }, renewed: true };
}

/** Messages a connector shows its users (its error's message carries the details for the log). */
export interface FailureTexts {
  /** Shown when the provider is down. */
  readonly unreachable: string;
}

/** A failed provider call as a ConnectorError: the provider's words in the message, a safe text for the user. */
export function upstreamFailure(
  provider: string,
  step: string,
  err: unknown,
  texts: FailureTexts & { readonly userMessage: string },
): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof UpstreamRequestError) {
    return new ConnectorError(
      `${provider}: ${step}: ${err.message}`,
      err.temporary ? texts.unreachable : texts.userMessage,
      {
        cause: err,
        temporary: err.temporary,
      },
    );
  }
  return new ConnectorError(
    `${provider}: ${step}: ${err instanceof Error ? err.message : String(err)}`,
    texts.userMessage,
    { cause: err },
  );
}

/** Dex's groups.Filter: the given groups that are in `required`, in the given order. */
export function filterGroups(given: readonly string[], required: readonly string[]): string[] {
  const wanted = new Set(required);
  return given.filter((group) => wanted.has(group));
}

/** Rejects an upstream `error=` redirect with its description in the log. */
export function callbackError(
  provider: string,
  query: URLSearchParams,
  texts: { denied: string; failed: string },
): void {
  const error = query.get('error');
  if (error === null) return;
  const description = query.get('error_description');
  throw new ConnectorError(
    `${provider} returned error=${error}${description === null ? '' : `: ${description}`}`,
    error === 'access_denied' ? texts.denied : texts.failed,
  );
}

/** The `code` of a callback, or a ConnectorError when there is none. */
export function callbackCode(provider: string, query: URLSearchParams, failed: string): string {
  const code = query.get('code');
  if (code === null || code === '') throw new ConnectorError(`${provider} callback without a code`, failed);
  return code;
}
