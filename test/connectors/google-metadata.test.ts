/**
 * The google connector's Directory API credentials without serviceAccountFilePath, as Dex finds them (Go's
 * application default credentials): the file $GOOGLE_APPLICATION_CREDENTIALS names, gcloud's well-known file,
 * else the metadata server of Google Cloud (GKE workload identity, GCE), whose service account is impersonated
 * for the admin through the IAM Credentials API's signJwt. Against the fake Google, which plays the metadata
 * server and the IAM Credentials API too.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { configSchema, open } from '../../connectors/google/google.js';
import { asCallback, GROUPS, login, refused, type TestConnector, testDeps } from '../support/callback-harness.js';
import { type FakeGoogle, startFakeGoogle } from '../support/fake-google.js';

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const FAST_RETRY = { initialDelayMs: 10, maxDelayMs: 50, maxWaitMs: 2_000 };

describe('google connector: application default credentials', () => {
  let fake: FakeGoogle;
  let dir: string;
  /** A HOME without gcloud's well-known file. */
  let home: string;
  const opened: TestConnector[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idport-google-adc-'));
    home = join(dir, 'home');
    await mkdir(home);
    fake = await startFakeGoogle({
      dir,
      users: [{ sub: '110', email: 'jane@example.com', emailVerified: true, name: 'Jane', hd: 'example.com' }],
      superAdmins: ['admin@example.com'],
      memberships: { 'jane@example.com': ['eng@example.com', 'all@example.com', 'ops@example.com'] },
    });
  });
  after(async () => {
    for (const connector of opened) await connector.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  const connect = async (
    config: Record<string, unknown>,
    env: Record<string, string>,
    deps = testDeps(),
  ): Promise<TestConnector> => {
    const parsed = configSchema.parse({
      clientID: fake.clientId,
      clientSecret: fake.clientSecret,
      redirectURI: CALLBACK,
      issuer: fake.origin,
      adminAPIURL: fake.origin,
      iamCredentialsURL: fake.origin,
      delegationTokenURL: `${fake.origin}/token`,
      domainToAdminEmail: { '*': 'admin@example.com' },
      ...config,
    });
    const connector = asCallback(
      await open('google', parsed, deps, { retry: FAST_RETRY, timeoutSeconds: 5, env: { HOME: home, ...env } }),
    );
    opened.push(connector);
    return connector;
  };
  const metadataRequests = (): number => fake.requests.filter((r) => r.path.startsWith('/computeMetadata/')).length;

  test("reads groups as the metadata server's service account impersonating the admin, as Dex on GKE", async () => {
    const deps = testDeps();
    const before = metadataRequests();
    const connector = await connect({}, { GCE_METADATA_HOST: fake.metadataHost }, deps);
    assert.equal(metadataRequests(), before, 'nothing is fetched at start');
    assert.ok(deps.lines.some((l) => String(l.msg).includes('application default credential')));
    fake.loginAs('jane@example.com');
    const identity = await login(connector, GROUPS, CALLBACK);
    assert.deepEqual(identity.groups, ['eng@example.com', 'all@example.com', 'ops@example.com']);
    const payload = fake.signedPayloads.at(-1);
    assert.equal(payload?.iss, fake.serviceAccountEmail, "the metadata server's account signs");
    assert.equal(payload?.sub, 'admin@example.com', 'acting for the admin of the user’s domain');
    assert.equal(payload?.aud, `${fake.origin}/token`);
    assert.equal(payload?.scope, 'https://www.googleapis.com/auth/admin.directory.group.readonly');
    assert.equal(fake.impersonated.at(-1), 'admin@example.com');
    const asked = fake.requests.filter((r) => r.path.startsWith('/computeMetadata/'));
    assert.ok(asked.every((r) => r.headers['metadata-flavor'] === 'Google'));
    assert.deepEqual([...new Set(asked.map((r) => r.path))].sort(), [
      '/computeMetadata/v1/instance/service-accounts/default/email',
      '/computeMetadata/v1/instance/service-accounts/default/token',
    ]);
    // The admin token is cached: a second login signs nothing new.
    const signed = fake.signedPayloads.length;
    await login(connector, GROUPS, CALLBACK);
    assert.equal(fake.signedPayloads.length, signed);
  });

  test('refuses the login when the account may not act for the admin, or no metadata server answers', async () => {
    const intern = await connect(
      { domainToAdminEmail: { '*': 'intern@example.com' } },
      { GCE_METADATA_HOST: fake.metadataHost },
    );
    fake.loginAs('jane@example.com');
    await assert.rejects(
      login(intern, GROUPS, CALLBACK),
      refused({ message: /unauthorized_client/, userMessage: /could not complete/ }),
    );
    // Off Google Cloud nothing listens at the metadata address: a temporary failure, never a code.
    const offCloud = await connect({}, { GCE_METADATA_HOST: '127.0.0.1:9' });
    await assert.rejects(
      login(offCloud, GROUPS, CALLBACK),
      refused({ message: /computeMetadata/, userMessage: /not reachable/, temporary: true }),
    );
  });

  test("prefers the key file $GOOGLE_APPLICATION_CREDENTIALS names, then gcloud's well-known file", async () => {
    fake.loginAs('jane@example.com');
    const signed = fake.signedPayloads.length;
    const fromEnv = await connect(
      {},
      { GOOGLE_APPLICATION_CREDENTIALS: fake.serviceAccountFile, GCE_METADATA_HOST: '127.0.0.1:9' },
    );
    assert.equal((await login(fromEnv, GROUPS, CALLBACK)).groups.length, 3);
    const gcloud = join(dir, 'gcloud');
    await mkdir(gcloud);
    await copyFile(fake.serviceAccountFile, join(gcloud, 'application_default_credentials.json'));
    const wellKnown = await connect({}, { CLOUDSDK_CONFIG: gcloud, GCE_METADATA_HOST: '127.0.0.1:9' });
    assert.equal((await login(wellKnown, GROUPS, CALLBACK)).groups.length, 3);
    assert.equal(fake.signedPayloads.length, signed, 'the key files sign locally; signJwt is not asked');
    // A file that is no service account key stops the start, as in Dex, naming where it came from.
    const userCredentials = join(dir, 'authorized-user.json');
    await writeFile(userCredentials, '{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}');
    await assert.rejects(
      connect({}, { GOOGLE_APPLICATION_CREDENTIALS: userCredentials }),
      /^Error: \$GOOGLE_APPLICATION_CREDENTIALS: .* is not a service account key file/,
    );
  });
});
