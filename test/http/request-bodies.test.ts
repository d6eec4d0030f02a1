/**
 * Request bodies (issue 10, item 4): forms only, refused unread in the endpoint's own format with the connection
 * closed; a body limit; and unfinished uploads closed by the server's request timeout (over a real socket).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { DEVICE_CODE_GRANT } from '../../src/oauth/device/authorization.js';
import { FORM_BODY_LIMIT } from '../../src/http/form.js';
import { client, testProvider } from '../oauth/provider.js';

const branding = { issuerName: 'idport test', logoUrl: '', theme: 'light' };
const FORM_ONLY = { error: 'invalid_request', error_description: 'the body must be application/x-www-form-urlencoded' };

describe('request bodies', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    const provider = await testProvider([client('cli', { public: true, secret: '', redirectURIs: [] })], {
      grantTypes: ['authorization_code', DEVICE_CODE_GRANT],
    });
    app = await buildApp({ provider, branding, connectionLimits: { requestTimeoutMs: 1_000, headersTimeoutMs: 500 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });
  after(() => app.close());

  it('refuses JSON and text at /token and /device/code with invalid_request JSON and closes the connection', async () => {
    for (const [url, type] of [
      ['/dex/token', 'application/json'],
      ['/dex/device/code', 'application/json'],
      ['/dex/token', 'text/plain'],
    ] as const) {
      const response = await app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload: '{}' });
      assert.equal(response.statusCode, 400, `${url} ${type}`);
      assert.deepEqual(response.json(), FORM_ONLY);
      assert.equal(response.headers.connection, 'close');
    }
  });

  it('refuses JSON at /auth with an error page', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/dex/auth',
      headers: { 'content-type': 'application/json' },
      payload: '{"client_id":"cli"}',
    });
    assert.equal(response.statusCode, 400);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.match(response.body, /the body must be application\/x-www-form-urlencoded/);
  });

  it('reads a form with any charset parameter', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/dex/device/code',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=ISO-8859-1' },
      payload: 'client_id=cli&scope=openid',
    });
    assert.equal(response.statusCode, 200);
  });

  it(`refuses a form over ${FORM_BODY_LIMIT} bytes with invalid_request`, async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/dex/device/code',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `client_id=cli&scope=${'a'.repeat(FORM_BODY_LIMIT)}`,
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { error: 'invalid_request', error_description: 'the body is too large' });
  });

  it('answers a refused media type at once, without waiting for its body, and closes the socket', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    // Announces a megabyte it never sends: only an answer that does not read the body can come back.
    socket.write(
      'POST /dex/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{',
    );
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await once(socket, 'close');
    assert.match(received, /^HTTP\/1\.1 400 /);
    assert.match(received, /connection: close/i);
  });

  it('closes an upload that never finishes once the request timeout passes', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /dex/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=',
    );
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await once(socket, 'close');
    // Node answers 408 when the request timeout fires before the body is complete.
    assert.match(received, /^HTTP\/1\.1 408 /);
  });
});
