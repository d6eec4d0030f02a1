/**
 * Directory API credentials without a key file, as Dex gets them on Google Cloud (GKE workload identity, a GCE
 * VM): application default credentials from the metadata server. Dex (connector/google, createServiceWithMetadataServer)
 * asks the metadata server for the default service account's email, then impersonates that account for the
 * admin through Go's impersonate package: the IAM Credentials API signs the delegation JWT (signJwt, authorised
 * by the metadata server's own token), and the signed JWT is exchanged at Google's OAuth 2.0 token endpoint.
 * No key ever leaves Google. Nothing is fetched at start; the first group lookup reaches the metadata server.
 */
import { z } from 'zod';

import { ApiClient, type HttpSettings, UpstreamRequestError } from '../webflow/client.js';
import { type AdminTokenSource, GROUP_READONLY_SCOPE, JWT_BEARER } from './directory.js';

/** Where the metadata server is when $GCE_METADATA_HOST does not say (Go's cloud.google.com/go/compute/metadata). */
export const DEFAULT_METADATA_HOST = '169.254.169.254';
// The scope Go's impersonate package asks the base credentials for.
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
// Go's impersonate package's default token lifetime (CredentialsConfig.Lifetime 0).
const DELEGATION_LIFETIME_SECONDS = 3600;
// Renew the metadata server's token this long before it expires.
const EXPIRY_MARGIN_MS = 60_000;

const metadataTokenSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().optional(),
});
const signJwtSchema = z.object({ keyId: z.string().optional(), signedJwt: z.string().min(1) });

/** Where the Google services are; the two URLs default to Google's and are idport keys of the connector. */
export interface MetadataEndpoints {
  /** `host[:port]` of the metadata server ($GCE_METADATA_HOST, as in Go). */
  readonly metadataHost: string;
  /** Base of the IAM Service Account Credentials API (https://iamcredentials.googleapis.com). */
  readonly iamCredentialsURL: string;
  /** Google's OAuth 2.0 token endpoint (https://oauth2.googleapis.com/token); also the JWT's `aud`. */
  readonly delegationTokenURL: string;
}

/** Admin tokens through the metadata server's service account, impersonated for each admin. */
export class MetadataServerTokens extends ApiClient implements AdminTokenSource {
  private email: string | undefined;
  private base: { token: string; expiry: number } | undefined;

  constructor(
    settings: HttpSettings,
    private readonly endpoints: MetadataEndpoints,
  ) {
    super(settings);
  }

  async tokenFor(admin: string, now: Date): Promise<{ token: string; expiry: Date | undefined }> {
    const email = await this.serviceAccountEmail();
    const baseToken = await this.baseToken(now);
    const issuedAt = Math.floor(now.getTime() / 1000);
    const payload = JSON.stringify({
      iss: email,
      scope: GROUP_READONLY_SCOPE,
      sub: admin,
      aud: this.endpoints.delegationTokenURL,
      iat: issuedAt,
      exp: issuedAt + DELEGATION_LIFETIME_SECONDS,
    });
    const name = `projects/-/serviceAccounts/${encodeURIComponent(email)}`;
    const { value } = await this.api(
      {
        url: `${this.endpoints.iamCredentialsURL.replace(/\/+$/, '')}/v1/${name}:signJwt`,
        token: baseToken,
        method: 'POST',
        json: { payload },
      },
      signJwtSchema,
    );
    const token = await this.tokenRequest(
      this.endpoints.delegationTokenURL,
      new URLSearchParams({ grant_type: JWT_BEARER, assertion: value.signedJwt }),
      { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      now,
    );
    return { token: token.accessToken, expiry: token.expiry };
  }

  /** The default service account's email (metadata `instance/service-accounts/default/email`), read once. */
  private async serviceAccountEmail(): Promise<string> {
    if (this.email !== undefined) return this.email;
    const email = (await this.metadata('instance/service-accounts/default/email')).trim();
    if (email === '') throw new UpstreamRequestError('metadata server: empty service account email', 200, false);
    this.email = email;
    return email;
  }

  /** The metadata server's access token for the default service account, cached until shortly before expiry. */
  private async baseToken(now: Date): Promise<string> {
    if (this.base !== undefined && this.base.expiry - EXPIRY_MARGIN_MS > now.getTime()) return this.base.token;
    const text = await this.metadata(
      `instance/service-accounts/default/token?scopes=${encodeURIComponent(CLOUD_PLATFORM_SCOPE)}`,
    );
    let parsed: z.infer<typeof metadataTokenSchema>;
    try {
      parsed = metadataTokenSchema.parse(JSON.parse(text));
    } catch (err: unknown) {
      throw new UpstreamRequestError('metadata server: unexpected token response', 200, false, { cause: err });
    }
    this.base = { token: parsed.access_token, expiry: now.getTime() + (parsed.expires_in ?? 0) * 1000 };
    return parsed.access_token;
  }

  private async metadata(suffix: string): Promise<string> {
    const url = `http://${this.endpoints.metadataHost}/computeMetadata/v1/${suffix}`;
    const response = await this.send(url, { method: 'GET', headers: { 'metadata-flavor': 'Google' } });
    const text = await response.text();
    if (response.status !== 200)
      throw new UpstreamRequestError(
        `metadata server: GET /computeMetadata/v1/${suffix.split('?')[0] ?? ''}: HTTP ${response.status} ${text.slice(0, 200)}`,
        response.status,
        response.status >= 500,
      );
    return text;
  }
}
