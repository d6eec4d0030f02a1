/** The one error mapping (ARCHITECTURE.md decision 7) via inject(): channels, statuses, no leaked details. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { StorageUnavailableError, type Client, type Storage } from '../../storage/storage.js';
import { client, REDIRECT, testProvider } from '../oauth/provider.js';

const branding = { issuerName: 'idport test', logoUrl: '', theme: 'light' };

/** A storage whose client lookups fail the way the test asks, to reach the error mapping's last branches. */
const failingClients = (storage: Storage, failure: () => Error): Storage => ({
  ...storage,
  clients: {
    ...storage.clients,
    get: async (id: string): Promise<Client | undefined> =>
      id === 'broken' ? Promise.reject(failure()) : storage.clients.get(id),
  },
});

const form = (values: Record<string, string>): { headers: Record<string, string>; payload: string } => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(values).toString(),
});

describe('error mapping', () => {
  let app: FastifyInstance;
  let down: FastifyInstance;
  before(async () => {
    const provider = await testProvider([client('web')]);
    const failing = failingClients(
      provider.storage,
      () => new Error('SQLITE_CORRUPT: database disk image is malformed at /var/lib/idport.db'),
    );
    app = await buildApp({ provider: { ...provider, storage: failing }, branding, headers: { 'X-Custom': 'yes' } });
    const unavailable = failingClients(provider.storage, () => new StorageUnavailableError('connection refused'));
    down = await buildApp({ provider: { ...provider, storage: unavailable }, branding });
  });
  after(async () => {
    await app.close();
    await down.close();
  });

  it('answers an unexpected failure at /auth with a generic 500 page that hides the cause', async () => {
    const response = await app.inject({
      url: `/dex/auth?client_id=broken&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=openid`,
    });
    assert.equal(response.statusCode, 500);
    assert.equal(response.headers['x-frame-options'], 'DENY');
    assert.equal(response.headers['x-custom'], 'yes');
    assert.match(response.body, /idport could not complete the request\./);
    assert.match(response.body, /Try again in a few minutes/);
    assert.ok(!response.body.includes('SQLITE'), 'no internal detail on the page');
  });

  it('answers an unexpected failure at /token with server_error and no description', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/dex/token',
      ...form({ grant_type: 'authorization_code', code: 'x', client_id: 'broken', client_secret: 'x' }),
    });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(response.json(), { error: 'server_error' });
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  it('answers a storage outage with 503 temporarily_unavailable', async () => {
    const response = await down.inject({
      method: 'POST',
      url: '/dex/token',
      ...form({ grant_type: 'authorization_code', code: 'x', client_id: 'broken', client_secret: 'x' }),
    });
    assert.equal(response.statusCode, 503);
    assert.deepEqual(response.json(), {
      error: 'temporarily_unavailable',
      error_description: 'the service is temporarily unavailable',
    });
  });

  it('answers a /token body of the wrong media type with invalid_request', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/dex/token',
      headers: { 'content-type': 'text/plain' },
      payload: 'grant_type=authorization_code',
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      error: 'invalid_request',
      error_description: 'the body must be application/x-www-form-urlencoded',
    });
  });

  it('answers a POST /auth of the wrong media type with an error page (its body is not read as parameters)', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/dex/auth',
      headers: { 'content-type': 'text/plain' },
      payload: 'client_id=web',
    });
    assert.equal(response.statusCode, 400);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.equal(response.headers['content-security-policy']?.includes("default-src 'none'"), true);
    assert.match(response.body, /the body must be application\/x-www-form-urlencoded/);
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const kept = await app.inject({ url: '/dex/keys', headers: { 'x-request-id': 'abc-123' } });
    assert.equal(kept.headers['x-request-id'], 'abc-123');
    const replaced = await app.inject({ url: '/dex/keys', headers: { 'x-request-id': 'bad id\u0000' } });
    assert.notEqual(replaced.headers['x-request-id'], 'bad id\u0000');
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
