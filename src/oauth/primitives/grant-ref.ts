/**
 * The grant an access token belongs to, named in its `gid` claim: `c:<code id>` for the code exchange (and the
 * front-channel tokens of a hybrid response), `r:<family id>` for a refresh-token family. /userinfo, introspection
 * and revocation read it back, so revoking a grant revokes the access tokens it issued (ARCHITECTURE.md decision 4).
 */

/** A `gid` read back: which stored record the grant lives in. */
export type GrantRef =
  { readonly kind: 'code'; readonly codeId: string } | { readonly kind: 'family'; readonly familyId: string };

const CODE_PREFIX = 'c:';
const FAMILY_PREFIX = 'r:';

/** The `gid` of tokens issued from the authorization code stored under `codeId`. */
export const codeGrantRef = (codeId: string): string => `${CODE_PREFIX}${codeId}`;

/** The `gid` of tokens issued from the refresh-token family stored under `familyId`. */
export const familyGrantRef = (familyId: string): string => `${FAMILY_PREFIX}${familyId}`;

/** Reads a `gid` claim; undefined for a token that names no grant (implicit flow) or one idport does not know. */
export const parseGrantRef = (gid: unknown): GrantRef | undefined => {
  if (typeof gid !== 'string') return undefined;
  if (gid.startsWith(CODE_PREFIX)) return { kind: 'code', codeId: gid.slice(CODE_PREFIX.length) };
  if (gid.startsWith(FAMILY_PREFIX)) return { kind: 'family', familyId: gid.slice(FAMILY_PREFIX.length) };
  return undefined;
};
