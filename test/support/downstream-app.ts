/**
 * The application side of an end-to-end login: openid-client as a relying party of idport, a Browser
 * following idport → provider → idport → application, and the ID token verified against idport's keys.
 */
import assert from 'node:assert/strict';

import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import { Browser, type Page } from './browser.js';
import type { ConfigServer } from './config-server.js';

export const APP_REDIRECT = 'http://127.0.0.1:5555/callback';

/** The static client every end-to-end config declares. */
export const APP_CLIENT_YAML = `staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${APP_REDIRECT}']
`;

/** openid-client configured against idport by discovery. */
export async function discoverApp(idport: ConfigServer): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(idport.issuer), 'app', 'app-secret', undefined, {
    execute: [oidc.allowInsecureRequests],
  });
}

/** A login that ended at the application: its tokens and the verified ID token claims. */
export interface AppLogin {
  readonly tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  readonly claims: JWTPayload;
}

/** Logs in through idport's pages; an error page instead of a redirect to the app comes back as `page`. */
export async function loginThroughIdport(
  app: oidc.Configuration,
  idport: ConfigServer,
  scope: string,
): Promise<{ login: AppLogin; page?: undefined } | { login?: undefined; page: Page }> {
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(app, { redirect_uri: APP_REDIRECT, scope, state });
  const step = await new Browser().follow(url.href, APP_REDIRECT);
  if (step.location === undefined) return { page: step.page };
  const tokens = await oidc.authorizationCodeGrant(app, new URL(step.location), { expectedState: state });
  const { payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(`${idport.issuer}/keys`)), {
    issuer: idport.issuer,
    audience: 'app',
  });
  return { login: { tokens, claims: payload } };
}

/** The login, asserting it reached the application. */
export async function mustLogin(app: oidc.Configuration, idport: ConfigServer, scope: string): Promise<AppLogin> {
  const result = await loginThroughIdport(app, idport, scope);
  assert.ok(result.login, `the login ended at the application (last page: ${result.page?.status} ${result.page?.url})`);
  return result.login;
}

/** Asserts that a refresh is refused with invalid_grant. */
export async function refreshRefused(app: oidc.Configuration, refreshToken: string): Promise<void> {
  await assert.rejects(oidc.refreshTokenGrant(app, refreshToken), (err: unknown) => {
    assert.ok(err instanceof oidc.ResponseBodyError, String(err));
    assert.equal(err.error, 'invalid_grant');
    return true;
  });
}
