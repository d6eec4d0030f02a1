/**
 * Google Workspace group membership through the Admin SDK Directory API, as Dex reads it: a service
 * account (its JSON key file) impersonates a super-admin of the user's domain (domainToAdminEmail, falling
 * back to `*`) with the OAuth 2.0 JWT-bearer grant (RFC 7523) at the file's `token_uri`, then lists the
 * groups with `userKey` = the user's email, page by page, and with fetchTransitiveGroupMembership the
 * groups of each group, each group once.
 */
import { readFile } from 'node:fs/promises';

import { type CryptoKey, importPKCS8, SignJWT } from 'jose';
import { z } from 'zod';

import { type ApiClient, UpstreamRequestError } from '../webflow/client.js';

// The read-only scope Dex asks for (admin.AdminDirectoryGroupReadonlyScope).
export const GROUP_READONLY_SCOPE = 'https://www.googleapis.com/auth/admin.directory.group.readonly';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const WILDCARD = '*';
// Renew an admin token this long before it expires.
const EXPIRY_MARGIN_MS = 60_000;
// A bound on pages followed per listing (200 groups a page at Google).
const MAX_PAGES = 500;

const serviceAccountSchema = z.object({
  type: z.literal('service_account'),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  token_uri: z.url().default('https://oauth2.googleapis.com/token'),
});

/** A parsed service account key. */
export interface ServiceAccount {
  readonly clientEmail: string;
  readonly privateKey: CryptoKey;
  readonly privateKeyId: string | undefined;
  readonly tokenUri: string;
}

/** Reads a service account key file (what Google's console downloads). Throws an Error naming the problem. */
export async function loadServiceAccount(path: string, source = 'serviceAccountFilePath'): Promise<ServiceAccount> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err: unknown) {
    throw new Error(`${source}: error reading credentials from file ${path}`, { cause: err });
  }
  let parsed: z.infer<typeof serviceAccountSchema>;
  try {
    parsed = serviceAccountSchema.parse(JSON.parse(text));
  } catch (err: unknown) {
    throw new Error(`${source}: ${path} is not a service account key file (JSON with type service_account)`, {
      cause: err,
    });
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await importPKCS8(parsed.private_key, 'RS256');
  } catch (err: unknown) {
    throw new Error(`${source}: the private_key in ${path} is not a PKCS#8 RSA key`, { cause: err });
  }
  return {
    clientEmail: parsed.client_email,
    privateKey,
    privateKeyId: parsed.private_key_id,
    tokenUri: parsed.token_uri,
  };
}

const groupsPageSchema = z.object({
  groups: z.array(z.object({ email: z.string() })).default([]),
  nextPageToken: z.string().optional(),
});

/** Access tokens for the Directory API, each acting for one Workspace admin (domain-wide delegation). */
export interface AdminTokenSource {
  /** A fresh token for `admin`; Directory caches it until shortly before its expiry. */
  tokenFor(admin: string, now: Date): Promise<{ readonly token: string; readonly expiry: Date | undefined }>;
}

/**
 * RFC 7523 §2.1 with a key file: a JWT signed by the service account, `sub` the admin it acts for, `aud` the
 * file's token URI, as Go's google.JWTConfigFromJSON does.
 */
export class KeyFileTokens implements AdminTokenSource {
  constructor(
    private readonly http: ApiClient,
    private readonly account: ServiceAccount,
  ) {}

  async tokenFor(admin: string, now: Date): Promise<{ token: string; expiry: Date | undefined }> {
    const { account } = this;
    const issuedAt = Math.floor(now.getTime() / 1000);
    const assertion = await new SignJWT({ scope: GROUP_READONLY_SCOPE })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        ...(account.privateKeyId === undefined ? {} : { kid: account.privateKeyId }),
      })
      .setIssuer(account.clientEmail)
      .setSubject(admin)
      .setAudience(account.tokenUri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 3600)
      .sign(account.privateKey);
    const token = await this.http.tokenRequest(
      account.tokenUri,
      new URLSearchParams({ grant_type: JWT_BEARER, assertion }),
      { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      now,
    );
    return { token: token.accessToken, expiry: token.expiry };
  }
}

/** The Directory API for one connector: admin tokens cached per impersonated admin. */
export class Directory {
  private readonly tokens = new Map<string, { token: string; expiry: number }>();

  constructor(
    private readonly http: ApiClient,
    private readonly settings: {
      readonly credentials: AdminTokenSource;
      readonly adminByDomain: ReadonlyMap<string, string>;
      readonly adminAPIURL: string;
      readonly now: () => Date;
    },
  ) {}

  /** The user's groups (group emails), with the groups of those groups when `transitive`. */
  async groupsOf(email: string, transitive: boolean): Promise<string[]> {
    const at = email.lastIndexOf('@');
    const domain = at >= 0 ? email.slice(at + 1) : WILDCARD;
    const admin = this.settings.adminByDomain.get(domain) ?? this.settings.adminByDomain.get(WILDCARD);
    if (admin === undefined)
      throw new UpstreamRequestError(
        `unable to find super admin email: domainToAdminEmail for domain ${domain} not set, ${WILDCARD} is also empty`,
        undefined,
        false,
      );
    return this.list(email, admin, transitive, new Set());
  }

  private async list(key: string, admin: string, transitive: boolean, checked: Set<string>): Promise<string[]> {
    const groups: string[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page === 0 || pageToken !== undefined; page++) {
      if (page === MAX_PAGES) throw new UpstreamRequestError(`more than ${MAX_PAGES} pages of groups`, 200, false);
      const url = new URL('admin/directory/v1/groups', withSlash(this.settings.adminAPIURL));
      url.searchParams.set('userKey', key);
      if (pageToken !== undefined) url.searchParams.set('pageToken', pageToken);
      const { value } = await this.http.api({ url: url.href, token: await this.adminToken(admin) }, groupsPageSchema);
      for (const group of value.groups) {
        if (checked.has(group.email)) continue;
        checked.add(group.email);
        groups.push(group.email);
        // The Directory API takes a group's email as userKey too.
        if (transitive) groups.push(...(await this.list(group.email, admin, transitive, checked)));
      }
      pageToken = value.nextPageToken === '' ? undefined : value.nextPageToken;
    }
    return groups;
  }

  private async adminToken(admin: string): Promise<string> {
    const now = this.settings.now();
    const cached = this.tokens.get(admin);
    if (cached !== undefined && cached.expiry - EXPIRY_MARGIN_MS > now.getTime()) return cached.token;
    const fresh = await this.settings.credentials.tokenFor(admin, now);
    this.tokens.set(admin, { token: fresh.token, expiry: fresh.expiry?.getTime() ?? now.getTime() + 3600_000 });
    return fresh.token;
  }
}

const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);
