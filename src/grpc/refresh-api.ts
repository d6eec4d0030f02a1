/**
 * ListRefresh and RevokeRefresh. `user_id` is the ID token's `sub` (Dex's encoding of user and connector). Dex keeps
 * one refresh token per user and client; idport keeps one family per login (DESIGN.md decision 4), so ListRefresh
 * lists every family of the user and RevokeRefresh ends all of the user's families for the client.
 */
import type { RefreshToken } from '../../storage/storage.js';
import { decodeSubject } from '../oauth/primitives/subject.js';
import { ApiError, str, type ApiContext, type Handler } from './common.js';

/** Go's error for a `user_id` that is not Dex's encoding (internal.Unmarshal). */
const unreadableSubject = (): ApiError => new ApiError('proto: cannot parse invalid wire-format data');

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** The live families of the user a `sub` names, optionally only those of one client. */
const familiesOf = async (context: ApiContext, sub: string, clientId?: string): Promise<RefreshToken[]> => {
  const subject = decodeSubject(sub);
  if (subject === undefined) throw unreadableSubject();
  // Families carry their user and connector; an admin call may afford the scan that the token endpoint avoids.
  return (await context.storage.refreshTokens.list()).filter(
    (family) =>
      family.claims.userId === subject.userId &&
      family.connectorId === subject.connectorId &&
      (clientId === undefined || family.clientId === clientId),
  );
};

export const refreshApi = (context: ApiContext): Record<string, Handler> => ({
  ListRefresh: async (request) => ({
    refresh_tokens: (await familiesOf(context, str(request.user_id))).map((family) => ({
      id: family.id,
      client_id: family.clientId,
      created_at: seconds(family.createdAt),
      last_used: seconds(family.lastUsed),
    })),
  }),
  RevokeRefresh: async (request) => {
    const families = await familiesOf(context, str(request.user_id), str(request.client_id));
    if (families.length === 0) return { not_found: true };
    // A family revoked meanwhile (by the user, or a concurrent call) is the outcome asked for.
    for (const family of families) await context.storage.refreshTokens.delete(family.id);
    return {};
  },
});
