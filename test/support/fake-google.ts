/**
 * A stand-in for Google's OpenID provider and the Admin SDK Directory API on one loopback port, in
 * their real shapes: the discovery document, /o/oauth2/v2/auth, /token (PKCE checked, refresh tokens
 * only with access_type=offline and never rotated, RS256 ID tokens with nonce and `hd`), the JWKS, the
 * service account JWT-bearer grant (RFC 7523) at the same /token, and GET /admin/directory/v1/groups
 * (userKey, paged with nextPageToken). `serviceAccountFile` is a key file as Google's console writes it.
 * The same port plays the GCE metadata server (the default service account's email and token, only with
 * `Metadata-Flavor: Google`, as $GCE_METADATA_HOST points Go's library at it) and the IAM Credentials API's
 * signJwt, which signs a payload with the service account's key for a caller holding a metadata token.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT } from 'jose';

import { type FakeOAuth, json, startFakeOAuth } from './fake-oauth.js';

export interface FakeGoogleUser {
  readonly sub: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string;
  /** The Workspace domain (`hd`); absent for a consumer account. */
  readonly hd?: string;
}

export interface FakeGoogle extends FakeOAuth {
  /** A service account key file (JSON) whose token_uri is this fake. */
  readonly serviceAccountFile: string;
  readonly serviceAccountEmail: string;
  /** Sets the groups a user or group (by email) is a direct member of. */
  setMemberships(memberEmail: string, groupEmails: readonly string[]): void;
  /** Leaves `name` out of the ID tokens issued from now on (as Google sometimes does on refresh). */
  omitNameFromIdTokens(omit: boolean): void;
  /** Admins whose impersonation was granted, in order. */
  readonly impersonated: string[];
  /** `host:port` for $GCE_METADATA_HOST. */
  readonly metadataHost: string;
  /** Payloads signed through the IAM Credentials API, parsed, in order. */
  readonly signedPayloads: Array<Record<string, unknown>>;
}

const googleError = (code: number, message: string, reason: string) => ({
  error: {
    code,
    message,
    errors: [{ message, domain: 'global', reason }],
    status: code === 404 ? 'NOT_FOUND' : 'FORBIDDEN',
  },
});

export async function startFakeGoogle(options: {
  users: readonly FakeGoogleUser[];
  /** Super-admins the service account may impersonate (domain-wide delegation). */
  superAdmins: readonly string[];
  /** Directory memberships: member email (user or group) → group emails. */
  memberships: Record<string, readonly string[]>;
  /** Where to write the service account file. */
  dir: string;
  pageSize?: number;
}): Promise<FakeGoogle> {
  const pageSize = options.pageSize ?? 2;
  const users = new Map(options.users.map((u) => [u.email, u]));
  const memberships = new Map(Object.entries(options.memberships));
  const signing = await generateKeyPair('RS256', { extractable: true });
  const serviceKey = await generateKeyPair('RS256', { extractable: true });
  const signingJwk = { ...(await exportJWK(signing.publicKey)), kid: 'google-key-1', alg: 'RS256', use: 'sig' };
  const serviceAccountEmail = 'idport-groups@example-project.iam.gserviceaccount.com';
  const adminTokens = new Map<string, string>();
  const impersonated: string[] = [];
  const metadataTokens = new Set<string>();
  const signedPayloads: Array<Record<string, unknown>> = [];
  let omitName = false;
  let tokenUri = '';

  const idToken = async (login: string, origin: string, nonce: string | null): Promise<string> => {
    const user = users.get(login);
    if (user === undefined) throw new Error(`no such user ${login}`);
    const claims: Record<string, unknown> = { email: user.email, email_verified: user.emailVerified, at_hash: 'x' };
    if (!omitName) claims.name = user.name;
    if (user.hd !== undefined) claims.hd = user.hd;
    if (nonce !== null) claims.nonce = nonce;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' })
      .setIssuer(origin)
      .setSubject(user.sub)
      .setAudience(fake.clientId)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(signing.privateKey);
  };

  const jwtBearer = async (form: URLSearchParams, res: Parameters<typeof json>[0]): Promise<boolean> => {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return false;
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', serviceKey.publicKey, {
        issuer: serviceAccountEmail,
        audience: tokenUri,
        algorithms: ['RS256'],
      });
      const scopes = String(payload.scope ?? '').split(' ');
      if (!scopes.includes('https://www.googleapis.com/auth/admin.directory.group.readonly')) throw new Error('scope');
      if (typeof payload.sub !== 'string' || !options.superAdmins.includes(payload.sub))
        throw new Error('not delegated');
      const token = `ya29.admin_${randomBytes(12).toString('base64url')}`;
      adminTokens.set(token, payload.sub);
      impersonated.push(payload.sub);
      json(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
    } catch {
      json(res, 401, {
        error: 'unauthorized_client',
        error_description:
          'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      });
    }
    return true;
  };

  // The GCE metadata server: only requests carrying Metadata-Flavor: Google are answered (SSRF protection).
  const metadata = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (req.headers['metadata-flavor'] !== 'Google')
      return void res.writeHead(403, { 'content-type': 'text/html' }).end('Missing Metadata-Flavor:Google header.');
    const path = url.pathname.slice('/computeMetadata/v1/'.length);
    if (path === 'instance/service-accounts/default/email')
      return void res
        .writeHead(200, { 'content-type': 'application/text', 'metadata-flavor': 'Google' })
        .end(serviceAccountEmail);
    if (path === 'instance/service-accounts/default/token') {
      const token = `ya29.metadata_${randomBytes(12).toString('base64url')}`;
      metadataTokens.add(token);
      return json(
        res,
        200,
        { access_token: token, expires_in: 3599, token_type: 'Bearer' },
        { 'metadata-flavor': 'Google' },
      );
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end('Not Found');
  };

  // IAM Credentials API projects.serviceAccounts.signJwt: the caller's token must be the metadata server's.
  const signJwt = async (req: IncomingMessage, res: ServerResponse, url: URL, body: string): Promise<void> => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!metadataTokens.has(bearer))
      return json(res, 401, googleError(401, 'Request had invalid authentication credentials.', 'authError'));
    const name = decodeURIComponent(url.pathname.slice('/v1/'.length, -':signJwt'.length));
    if (name !== `projects/-/serviceAccounts/${serviceAccountEmail}`)
      return json(res, 403, googleError(403, 'Permission iam.serviceAccounts.signJwt denied', 'forbidden'));
    const payload = JSON.parse(String((JSON.parse(body) as { payload?: unknown }).payload)) as Record<string, unknown>;
    signedPayloads.push(payload);
    const signedJwt = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: 'a1b2c3', typ: 'JWT' })
      .sign(serviceKey.privateKey);
    json(res, 200, { keyId: 'a1b2c3', signedJwt });
  };

  const fake = await startFakeOAuth({
    authorizePath: '/o/oauth2/v2/auth',
    tokenPath: '/token',
    expiresIn: 3599,
    rotateRefreshTokens: false,
    issueRefreshToken: (grant) => grant.authorize.get('access_type') === 'offline',
    tokenExtras: async (grant, origin, kind) => ({
      id_token: await idToken(grant.login, origin, kind === 'code' ? grant.authorize.get('nonce') : null),
    }),
    otherGrant: (form, res) => jwtBearer(form, res),
    api: ({ req, res, url, body, origin }) => {
      if (url.pathname === '/.well-known/openid-configuration')
        return json(res, 200, {
          issuer: origin,
          authorization_endpoint: `${origin}/o/oauth2/v2/auth`,
          token_endpoint: `${origin}/token`,
          userinfo_endpoint: `${origin}/v1/userinfo`,
          jwks_uri: `${origin}/oauth2/v3/certs`,
          response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'none'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'email', 'profile'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
          claims_supported: ['aud', 'email', 'email_verified', 'exp', 'iat', 'iss', 'name', 'sub', 'hd'],
          code_challenge_methods_supported: ['plain', 'S256'],
          grant_types_supported: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
        });
      if (url.pathname === '/oauth2/v3/certs') return json(res, 200, { keys: [signingJwk] });
      if (url.pathname.startsWith('/computeMetadata/v1/')) return metadata(req, res, url);
      if (req.method === 'POST' && url.pathname.endsWith(':signJwt')) return signJwt(req, res, url, body);
      if (req.method === 'GET' && url.pathname === '/admin/directory/v1/groups') {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        if (!adminTokens.has(bearer))
          return json(res, 401, googleError(401, 'Request had invalid authentication credentials.', 'authError'));
        const key = url.searchParams.get('userKey') ?? '';
        const knownGroups = new Set([...memberships.values()].flat());
        const groups = memberships.get(key) ?? (knownGroups.has(key) || users.has(key) ? [] : undefined);
        if (groups === undefined) return json(res, 404, googleError(404, 'Resource Not Found: userKey', 'notFound'));
        const start = Number(url.searchParams.get('pageToken') ?? 0);
        const body: Record<string, unknown> = { kind: 'admin#directory#groups', etag: '"fake"' };
        const page = groups.slice(start, start + pageSize);
        if (page.length > 0)
          body.groups = page.map((email, i) => ({
            kind: 'admin#directory#group',
            id: `0${start + i}abc`,
            email,
            name: email.split('@')[0],
            directMembersCount: '3',
            adminCreated: true,
          }));
        if (start + pageSize < groups.length) body.nextPageToken = String(start + pageSize);
        return json(res, 200, body);
      }
      return json(res, 404, googleError(404, 'Not Found', 'notFound'));
    },
  });
  tokenUri = `${fake.origin}/token`;

  const serviceAccountFile = join(options.dir, 'google-service-account.json');
  await writeFile(
    serviceAccountFile,
    JSON.stringify({
      type: 'service_account',
      project_id: 'example-project',
      private_key_id: 'a1b2c3',
      private_key: await exportPKCS8(serviceKey.privateKey),
      client_email: serviceAccountEmail,
      client_id: '1234567890',
      auth_uri: `${fake.origin}/o/oauth2/auth`,
      token_uri: tokenUri,
      auth_provider_x509_cert_url: `${fake.origin}/oauth2/v1/certs`,
      universe_domain: 'googleapis.com',
    }),
  );
  return {
    ...fake,
    serviceAccountFile,
    serviceAccountEmail,
    setMemberships: (member, groups) => void memberships.set(member, groups),
    omitNameFromIdTokens: (omit) => void (omitName = omit),
    impersonated,
    metadataHost: new URL(fake.origin).host,
    signedPayloads,
  };
}
