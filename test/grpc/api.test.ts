import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import {
  apiConfig,
  call,
  callApi,
  callError,
  loginAndRedeem,
  REDIRECT,
  startApi,
  subjectOf,
  tokenRequest,
  type StartedApi,
} from './support.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const HASH_10 = bcrypt.hashSync('api-password', 10);
/** Well-formed bcrypt strings whose cost is read without hashing anything. */
const fakeHash = (cost: string): string => `$2b$${cost}$${'a'.repeat(53)}`;

describe("gRPC API: Dex's calls and answers, through an independent client", () => {
  let idport: StartedApi;
  before(async () => {
    idport = await startApi(apiConfig('  addr: 127.0.0.1:0', 'telemetry:\n  http: 127.0.0.1:0\n'));
  });
  after(async () => idport.close());

  it('reports api version 3 and the discovery document', async () => {
    const [version, discovery] = await callApi(idport.channel, [{ method: 'GetVersion' }, { method: 'GetDiscovery' }]);
    assert.deepEqual(version, { reply: { server: '0.1.0', api: 3 } });
    assert.ok(discovery && 'reply' in discovery);
    assert.equal(discovery.reply.issuer, 'http://127.0.0.1:5556/dex');
    assert.equal(discovery.reply.token_endpoint, 'http://127.0.0.1:5556/dex/token');
    const web = (await (await fetch(`${idport.origin}/dex/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(discovery.reply.grant_types_supported, web.grant_types_supported);
  });

  it('creates, reads, updates, lists and deletes clients as Dex answers', async () => {
    const client = { id: 'api-crud', secret: 'crud-secret', redirect_uris: [REDIRECT], name: 'CRUD' };
    const outcomes = await callApi(idport.channel, [
      { method: 'CreateClient', request: { client } },
      { method: 'CreateClient', request: { client } },
      { method: 'CreateClient', request: {} },
      { method: 'CreateClient', request: { client: { id: 'static-app', secret: 'x' } } },
      { method: 'GetClient', request: { id: 'api-crud' } },
      { method: 'GetClient', request: { id: 'nobody' } },
      { method: 'UpdateClient', request: { id: 'api-crud', name: 'Renamed', trusted_peers: ['static-app'] } },
      { method: 'UpdateClient', request: { id: 'nobody', name: 'x' } },
      { method: 'UpdateClient', request: { name: 'x' } },
      { method: 'UpdateClient', request: { id: 'static-app', name: 'x' } },
      { method: 'GetClient', request: { id: 'api-crud' } },
      { method: 'ListClients' },
      { method: 'DeleteClient', request: { id: 'static-app' } },
      { method: 'DeleteClient', request: { id: 'api-crud' } },
      { method: 'DeleteClient', request: { id: 'api-crud' } },
    ]);
    assert.deepEqual(outcomes.slice(0, 6), [
      { reply: { client } },
      { reply: { already_exists: true } },
      { code: 'UNKNOWN', details: 'no client supplied' },
      { code: 'UNKNOWN', details: 'create client: static clients: read-only cannot create client' },
      { reply: { client } },
      { code: 'UNKNOWN', details: 'not found' },
    ]);
    assert.deepEqual(outcomes.slice(6, 11), [
      { reply: {} },
      { reply: { not_found: true } },
      { code: 'UNKNOWN', details: 'update client: no client ID supplied' },
      { code: 'UNKNOWN', details: 'update client: static clients: read-only cannot update client' },
      { reply: { client: { ...client, name: 'Renamed', trusted_peers: ['static-app'] } } },
    ]);
    const list = outcomes[11];
    assert.ok(list && 'reply' in list);
    const clients = list.reply.clients as Record<string, unknown>[];
    assert.deepEqual(
      clients.map((c) => c.id),
      ['static-app', 'api-crud'],
    );
    assert.ok(
      clients.every((c) => !('secret' in c)),
      'ListClients leaves secrets out',
    );
    assert.deepEqual(outcomes.slice(12), [
      { code: 'UNKNOWN', details: 'delete client: static clients: read-only cannot delete client' },
      { reply: {} },
      { reply: { not_found: true } },
    ]);
  });

  it('generates an id and a secret as Dex does, and no secret for a public client', async () => {
    const [confidential, publicOne] = await callApi(idport.channel, [
      { method: 'CreateClient', request: { client: { redirect_uris: [REDIRECT] } } },
      { method: 'CreateClient', request: { client: { public: true, redirect_uris: [REDIRECT] } } },
    ]);
    assert.ok(confidential && 'reply' in confidential && publicOne && 'reply' in publicOne);
    const made = confidential.reply.client as { id: string; secret: string };
    assert.match(made.id, /^[a-z2-7]{26}$/);
    assert.match(made.secret, /^[a-z2-7]{52}$/);
    const pub = publicOne.reply.client as { id: string; secret?: string; public: boolean };
    assert.match(pub.id, /^[a-z2-7]{26}$/);
    assert.equal(pub.secret, undefined);
    assert.equal(pub.public, true);
  });

  it("manages passwords with Dex's checks, and never lists hashes", async () => {
    const password = { email: 'Crud@Example.com', hash: b64(HASH_10), username: 'crud', user_id: 'crud-1' };
    const outcomes = await callApi(idport.channel, [
      { method: 'CreatePassword', request: { password } },
      { method: 'CreatePassword', request: { password } },
      { method: 'CreatePassword', request: {} },
      { method: 'CreatePassword', request: { password: { ...password, user_id: '' } } },
      { method: 'CreatePassword', request: { password: { ...password, hash: '' } } },
      { method: 'CreatePassword', request: { password: { ...password, email: 'x@y', hash: b64(fakeHash('04')) } } },
      { method: 'CreatePassword', request: { password: { ...password, email: 'x@y', hash: b64(fakeHash('17')) } } },
      { method: 'CreatePassword', request: { password: { ...password, email: 'admin@example.com' } } },
      { method: 'VerifyPassword', request: { email: 'crud@example.com', password: 'api-password' } },
      { method: 'VerifyPassword', request: { email: 'crud@example.com', password: 'wrong' } },
      { method: 'VerifyPassword', request: { email: 'nobody@example.com', password: 'x' } },
      { method: 'VerifyPassword', request: { password: 'x' } },
      { method: 'VerifyPassword', request: { email: 'crud@example.com' } },
    ]);
    assert.deepEqual(outcomes, [
      { reply: {} },
      { reply: { already_exists: true } },
      { code: 'UNKNOWN', details: 'no password supplied' },
      { code: 'UNKNOWN', details: 'no user ID supplied' },
      { code: 'UNKNOWN', details: 'no hash of password supplied' },
      { code: 'UNKNOWN', details: 'given hash cost = 4 does not meet minimum cost requirement = 10' },
      { code: 'UNKNOWN', details: 'given hash cost = 17 is above upper bound cost = 16, recommended cost = 12' },
      { code: 'UNKNOWN', details: 'create password: static passwords: read-only cannot create password' },
      { reply: { verified: true } },
      { reply: {} },
      { reply: { not_found: true } },
      { code: 'UNKNOWN', details: 'no email supplied' },
      { code: 'UNKNOWN', details: 'no password to verify supplied' },
    ]);
    const more = await callApi(idport.channel, [
      { method: 'UpdatePassword', request: { email: 'crud@example.com' } },
      { method: 'UpdatePassword', request: { new_username: 'x' } },
      { method: 'UpdatePassword', request: { email: 'nobody@example.com', new_username: 'x' } },
      { method: 'UpdatePassword', request: { email: 'admin@example.com', new_username: 'x' } },
      { method: 'UpdatePassword', request: { email: 'crud@example.com', new_hash: b64(fakeHash('09')) } },
      { method: 'UpdatePassword', request: { email: 'crud@example.com', new_username: 'renamed' } },
      { method: 'ListPasswords' },
      { method: 'DeletePassword', request: { email: 'admin@example.com' } },
      { method: 'DeletePassword', request: {} },
      { method: 'DeletePassword', request: { email: 'crud@example.com' } },
      { method: 'DeletePassword', request: { email: 'crud@example.com' } },
    ]);
    assert.deepEqual(more.slice(0, 6), [
      { code: 'UNKNOWN', details: 'nothing to update' },
      { code: 'UNKNOWN', details: 'no email supplied' },
      { reply: { not_found: true } },
      { code: 'UNKNOWN', details: 'update password: static passwords: read-only cannot update password' },
      { code: 'UNKNOWN', details: 'given hash cost = 9 does not meet minimum cost requirement = 10' },
      { reply: {} },
    ]);
    assert.deepEqual(more[6], {
      reply: {
        passwords: [
          { email: 'admin@example.com', username: 'admin', user_id: '08a8684b-db88-4b73-90a9-3cd1661f5466' },
          { email: 'crud@example.com', username: 'renamed', user_id: 'crud-1' },
        ],
      },
    });
    assert.deepEqual(more.slice(7), [
      { code: 'UNKNOWN', details: 'delete password: static passwords: read-only cannot delete password' },
      { code: 'UNKNOWN', details: 'no email supplied' },
      { reply: {} },
      { reply: { not_found: true } },
    ]);
  });

  it('serves a login at once for a client and a password created through the API, and revokes its refresh', async () => {
    await callApi(idport.channel, [
      {
        method: 'CreateClient',
        request: { client: { id: 'api-app', secret: 'api-secret', redirect_uris: [REDIRECT], name: 'API App' } },
      },
      {
        method: 'CreatePassword',
        request: { password: { email: 'api@example.com', hash: b64(HASH_10), username: 'api', user_id: 'api-user' } },
      },
    ]);
    const client = { id: 'api-app', secret: 'api-secret' };
    const tokens = await loginAndRedeem(idport.origin, client, { login: 'api@example.com', password: 'api-password' });
    assert.equal(tokens.status, 200, JSON.stringify(tokens));
    const sub = subjectOf(tokens.id_token);
    const refreshed = await tokenRequest(idport.origin, client, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed));

    const listed = await call(idport.channel, 'ListRefresh', { user_id: sub });
    const refs = listed.refresh_tokens as { client_id: string; created_at: string; last_used: string }[];
    assert.equal(refs.length, 1);
    assert.equal(refs[0]?.client_id, 'api-app');
    assert.ok(Number(refs[0]?.last_used) >= Number(refs[0]?.created_at));

    assert.deepEqual(await call(idport.channel, 'RevokeRefresh', { user_id: sub, client_id: 'api-app' }), {});
    const refused = await tokenRequest(idport.origin, client, {
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.refresh_token),
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.error, 'invalid_grant');
    assert.deepEqual(await call(idport.channel, 'ListRefresh', { user_id: sub }), {});
    assert.deepEqual(await call(idport.channel, 'RevokeRefresh', { user_id: sub, client_id: 'api-app' }), {
      not_found: true,
    });
    assert.deepEqual(await callError(idport.channel, 'ListRefresh', { user_id: 'not a subject' }), {
      code: 'UNKNOWN',
      details: 'proto: cannot parse invalid wire-format data',
    });
  });

  it('warns at startup that the API has no client certificates', () => {
    const warning = idport.logs().find((line) => String(line.msg).includes('full admin access'));
    assert.ok(warning, 'the no-client-CA warning is logged');
    assert.equal(warning.level, 40);
  });

  it('counts calls in go-grpc-prometheus metrics on the telemetry listener', async () => {
    await callApi(idport.channel, [{ method: 'GetVersion' }, { method: 'GetClient', request: { id: 'nobody' } }]);
    const metrics = await (await fetch(`http://${idport.addresses.telemetry ?? ''}/metrics`)).text();
    assert.match(
      metrics,
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="api.Dex",grpc_method="GetVersion",grpc_code="OK"\} [1-9]/,
    );
    assert.match(
      metrics,
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="api.Dex",grpc_method="GetClient",grpc_code="Unknown"\} [1-9]/,
    );
  });

  it('serves no reflection unless grpc.reflection is true', async () => {
    const reflection = await fetchReflection(idport.channel.target);
    assert.equal(reflection, 'UNIMPLEMENTED');
  });
});

/** The status of a reflection ListServices call (grpcio's reflection client is not packaged; grpc-js speaks it). */
const fetchReflection = async (target: string): Promise<string> => {
  const grpc = await import('@grpc/grpc-js');
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve) => {
      const stream = client.makeBidiStreamRequest(
        '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
        (value: Buffer) => value,
        (value: Buffer) => value,
      );
      // ServerReflectionRequest { list_services (field 7) = "" }
      stream.on('data', () => resolve('OK'));
      stream.on('error', (err: { code: number }) => resolve(grpc.status[err.code] ?? String(err.code)));
      stream.write(Buffer.from([0x3a, 0x00]));
      stream.end();
    });
  } finally {
    client.close();
  }
};
