/**
 * Dex's documented example config of each connector (dexidp/website content/docs/connectors/<name>.md,
 * the `connectors:` block as published) passes idport's config check, and idport starts and serves its
 * login page with it while every outbound request fails, as on a machine without network access.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { pino } from 'pino';

import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { defaultDeps } from '../../src/deps.js';
import { createServer } from '../../src/server.js';
import { selfSigned } from '../server/support.js';
import { type DexExample, HOSTED_EXAMPLES } from './dex-examples-hosted.js';

const workDir = mkdtempSync(join(tmpdir(), 'idport-dex-examples-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

/** The documented examples, with the environment their `$VAR`s need. */
const DEX_EXAMPLES: readonly DexExample[] = [
  {
    type: 'oauth',
    env: { REDDIT_CLIENT_ID: 'reddit-id', REDDIT_CLIENT_SECRET: 'reddit-secret' },
    yaml: `connectors:
- type: oauth
  # ID of OAuth 2.0 provider
  id: reddit
  # Name of OAuth 2.0 provider
  name: reddit
  config:
    # Connector config values starting with a "$" will read from the environment.
    clientID: $REDDIT_CLIENT_ID
    clientSecret: $REDDIT_CLIENT_SECRET
    redirectURI: http://127.0.0.1:5556/dex/callback

    tokenURL: https://www.reddit.com/api/v1/access_token
    authorizationURL: https://www.reddit.com/api/v1/authorize
    userInfoURL: https://www.reddit.com/api/v1/me

    # Optional: Some providers return claims without "email_verified", when they had no usage of emails verification in enrollment process
    # insecureSkipEmailVerified: true

    # Optional: List of scopes to request Auth provider for access user account
    # scopes:
    #  - identity

    # Auth providers return non-standard user identity profile
    # Use claimMapping to map those user informations to standard claims:
    claimMapping:
      # Optional: Configurable keys for user name look up
      # Default: user_name
      # userNameKey:
`,
  },
  {
    type: 'authproxy',
    env: {},
    yaml: `connectors:
# Slack login implemented by an authenticating proxy, not by dex.
- type: authproxy
  id: slack
  name: Slack 
- type: authproxy
  id: myBasicAuth
  name: HTTP Basic Auth
  config:
    userHeader: X-Forwarded-User # default is X-Remote-User
    groupHeader: X-Forwarded-Group # default is X-Remote-Group
    staticGroups:
    - default
`,
  },
  {
    type: 'openshift',
    env: { OPENSHIFT_OAUTH_CLIENT_ID: 'dex', OPENSHIFT_OAUTH_CLIENT_SECRET: 'openshift-secret' },
    // serve reads this file at startup (as Dex does); the test puts a CA certificate there.
    caFile: '/etc/ssl/openshift.pem',
    yaml: `connectors:
  - type: openshift
    # Required field for connector id.
    id: openshift
    # Required field for connector name.
    name: OpenShift
    config:
      # OpenShift API
      issuer: https://api.mycluster.example.com:6443
      # Credentials can be string literals or pulled from the environment.
      clientID: $OPENSHIFT_OAUTH_CLIENT_ID
      clientSecret: $OPENSHIFT_OAUTH_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/
      # Optional: Specify whether to communicate to OpenShift without validating SSL certificates
      insecureCA: false
      # Optional: The location of file containing SSL certificates to communicate to OpenShift
      rootCA: /etc/ssl/openshift.pem
      # Optional list of required groups a user must be a member of
      groups:
        - users
`,
  },
  {
    type: 'keystone',
    env: {},
    yaml: `connectors:
  - type: keystone
    # Required field for connector id.
    id: keystone
    # Required field for connector name.
    name: Keystone
    config:
      # Required, without v3 suffix.
      keystoneHost: http://example:5000
      # Required, admin user credentials to connect to keystone.
      domain: default
      keystoneUsername: demo 
      keystonePassword: DEMO_PASS
`,
  },
  {
    type: 'atlassian-crowd',
    env: { ATLASSIAN_CROWD_APPLICATION_ID: 'dex', ATLASSIAN_CROWD_CLIENT_SECRET: 'crowd-secret' },
    yaml: `connectors:
- type: atlassian-crowd
  # Required field for connector id.
  id: crowd
  # Required field for connector name.
  name: Crowd
  config:
    # Required field to connect to Crowd.
    baseURL: https://crowd.example.com/crowd
    # Credentials can be string literals or pulled from the environment.
    clientID: $ATLASSIAN_CROWD_APPLICATION_ID
    clientSecret: $ATLASSIAN_CROWD_CLIENT_SECRET
    # Optional groups whitelist, communicated through the "groups" scope.
    groups:
    - my-group
    # Prompt for username field.
    usernamePrompt: Login
    # Possible choices are: "key", "name", "email"
    preferredUsernameField: name
`,
  },
  {
    type: 'linkedin',
    env: { LINKEDIN_APPLICATION_ID: 'linkedin-id', LINKEDIN_CLIENT_SECRET: 'linkedin-secret' },
    yaml: `connectors:
  - type: linkedin
    # Required field for connector id.
    id: linkedin
    # Required field for connector name.
    name: LinkedIn
    config:
      # Credentials can be string literals or pulled from the environment.
      clientID: $LINKEDIN_APPLICATION_ID
      clientSecret: $LINKEDIN_CLIENT_SECRET
      redirectURI: http://127.0.0.1:5556/dex/callback
`,
  },
];

const HEADER = `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:0
`;

describe("Dex's documented connector examples", () => {
  for (const example of [...DEX_EXAMPLES, ...HOSTED_EXAMPLES]) {
    it(`${example.label ?? example.type}: passes the config check and serves without network access`, async () => {
      const check = (yaml: string) =>
        loadConfig(HEADER + yaml, 'config.yaml', { env: example.env, connectorSchemas: connectorSchemas() });
      assert.equal(check(example.yaml).connectors[0]?.type, example.type);
      const config = check(
        example.caFile === undefined ? example.yaml : example.yaml.replace(example.caFile, selfSigned(workDir).cert),
      );
      const outbound: string[] = [];
      const offline: typeof fetch = (input) => {
        outbound.push(input instanceof Request ? input.url : input.toString());
        return Promise.reject(new TypeError('fetch failed: getaddrinfo ENOTFOUND (no network)'));
      };
      const server = await createServer(config, {
        log: pino({ level: 'silent' }),
        deps: { ...defaultDeps, fetch: offline },
      });
      try {
        const discovery = await server.app.inject({ method: 'GET', url: '/dex/.well-known/openid-configuration' });
        assert.equal(discovery.statusCode, 200);
      } finally {
        await server.close();
      }
    });
  }
});
