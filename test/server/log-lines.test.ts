/**
 * Logs that say why: each case an operator has to debug leaves one line with its reason and the request id, every
 * request leaves exactly one request line, probes stay out of the info log, and JSON lines name their level.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { createServer, type Server } from '../../src/server.js';
import { Browser, formsOf, loginThroughPages } from '../support/browser.js';
import { CLIENT_ID, CLIENT_SECRET, configYaml, EMAIL, PASSWORD, REDIRECT } from './support.js';

type Line = Record<string, unknown>;

interface Logged {
  readonly server: Server;
  readonly origin: string;
  readonly issuer: string;
  /** The lines written so far, as text. */
  text(): string;
  close(): Promise<void>;
}

const startLogged = async (format: 'json' | 'text', level = 'info'): Promise<Logged> => {
  const config = loadConfig(configYaml(), 'config.yaml', { env: {}, connectorSchemas: connectorSchemas() });
  let written = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.toString('utf8');
      callback();
    },
  });
  const server = await createServer(config, { log: createLogger({ level, format, destination }) });
  const { http } = await server.listen();
  const origin = `http://${http ?? ''}`;
  return { server, origin, issuer: `${origin}/dex`, text: () => written, close: () => server.close() };
};

const linesOf = (logged: Logged): Line[] =>
  logged
    .text()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);

/** The lines of one request, by the id its response carried. */
const linesFor = (logged: Logged, requestId: string | null): Line[] => {
  assert.ok(requestId !== null);
  return linesOf(logged).filter((line) => line.reqId === requestId);
};

/** The one line of a request other than its request line. */
const reasonLine = (logged: Logged, requestId: string | null): Line => {
  const lines = linesFor(logged, requestId).filter((line) => !('status' in line));
  assert.equal(lines.length, 1, JSON.stringify(lines));
  return lines[0] ?? {};
};

const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

const postToken = (logged: Logged, form: Record<string, string>, authorization = basic): Promise<Response> =>
  fetch(`${logged.issuer}/token`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });

const authUrl = (logged: Logged, extra: Record<string, string> = {}): string =>
  `${logged.issuer}/auth?${new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email',
    state: 's',
    ...extra,
  }).toString()}`;

describe('log lines', () => {
  let logged: Logged;
  before(async () => {
    logged = await startLogged('json');
  });
  after(async () => logged.close());

  it('writes one request line per request, at info, with a string level and the request id', async () => {
    const response = await fetch(`${logged.issuer}/.well-known/openid-configuration`);
    const lines = linesFor(logged, response.headers.get('x-request-id'));
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual(
      { level: lines[0]?.level, msg: lines[0]?.msg, method: lines[0]?.method, status: lines[0]?.status },
      { level: 'info', msg: 'GET /dex/.well-known/openid-configuration 200', method: 'GET', status: 200 },
    );
    assert.equal(typeof lines[0]?.durationMs, 'number');
  });

  it('does not log health probes at info', async () => {
    for (const path of ['/healthz', '/healthz/live', '/healthz/ready', '/dex/healthz', '/dex/healthz/ready']) {
      const response = await fetch(`${logged.origin}${path}`);
      assert.equal(response.status, 200, path);
      assert.deepEqual(linesFor(logged, response.headers.get('x-request-id')), [], path);
    }
  });

  it('names the unknown client', async () => {
    const response = await fetch(authUrl(logged, { client_id: 'nobody' }));
    assert.equal(response.status, 400);
    const line = reasonLine(logged, response.headers.get('x-request-id'));
    assert.deepEqual(
      { level: line.level, msg: line.msg, client_id: line.client_id },
      {
        level: 'warn',
        msg: 'unknown client',
        client_id: 'nobody',
      },
    );
  });

  it('names the unregistered redirect URI and its client', async () => {
    const response = await fetch(authUrl(logged, { redirect_uri: 'https://evil.example/cb' }));
    assert.equal(response.status, 400);
    const line = reasonLine(logged, response.headers.get('x-request-id'));
    assert.deepEqual(
      { level: line.level, msg: line.msg, client_id: line.client_id, redirect_uri: line.redirect_uri },
      {
        level: 'warn',
        msg: 'redirect URI not registered for client',
        client_id: CLIENT_ID,
        redirect_uri: 'https://evil.example/cb',
      },
    );
  });

  it('gives the error code, client id and grant type of a failed token request, never the secret', async () => {
    const wrongSecret = `Basic ${Buffer.from(`${CLIENT_ID}:not-the-secret`).toString('base64')}`;
    const form = { grant_type: 'authorization_code', code: 'bogus-code', redirect_uri: REDIRECT };
    const badSecret = await postToken(logged, form, wrongSecret);
    assert.equal(badSecret.status, 401);
    const secretLine = reasonLine(logged, badSecret.headers.get('x-request-id'));
    assert.deepEqual(
      { msg: secretLine.msg, error: secretLine.error, client_id: secretLine.client_id, grant: secretLine.grant_type },
      { msg: 'token request failed', error: 'invalid_client', client_id: CLIENT_ID, grant: 'authorization_code' },
    );
    const bogusCode = await postToken(logged, form);
    assert.equal(bogusCode.status, 400);
    const codeLine = reasonLine(logged, bogusCode.headers.get('x-request-id'));
    assert.deepEqual(
      { level: codeLine.level, error: codeLine.error, client_id: codeLine.client_id },
      { level: 'warn', error: 'invalid_grant', client_id: CLIENT_ID },
    );
    assert.ok(!logged.text().includes('not-the-secret') && !logged.text().includes('bogus-code'));
  });

  it('names the connector, username and reason of a failed login, never the password', async () => {
    const browser = new Browser();
    const { page } = await browser.follow(authUrl(logged), REDIRECT);
    const [form] = formsOf(page);
    assert.ok(form);
    const failed = await browser.request(form.action, {
      form: { ...form.fields, login: EMAIL, password: 'Wrong-Password-123' },
    });
    assert.equal(failed.status, 401);
    const line = reasonLine(logged, failed.headers.get('x-request-id'));
    assert.deepEqual(
      { level: line.level, msg: line.msg, connector: line.connector, username: line.username, reason: line.reason },
      {
        level: 'warn',
        msg: 'login failed',
        connector: 'local',
        username: EMAIL,
        reason: 'invalid username or password',
      },
    );
    assert.ok(!logged.text().includes('Wrong-Password-123'));
  });

  it('logs a successful login with user, email, connector and client', async () => {
    const before = linesOf(logged).length;
    await loginThroughPages(new Browser(), authUrl(logged), REDIRECT, { login: EMAIL, password: PASSWORD });
    const logins = linesOf(logged)
      .slice(before)
      .filter((line) => line.msg === 'login successful');
    assert.equal(logins.length, 1);
    assert.deepEqual(
      {
        level: logins[0]?.level,
        user: logins[0]?.user,
        email: logins[0]?.email,
        connector: logins[0]?.connector,
        client: logins[0]?.client_id,
      },
      { level: 'info', user: 'admin', email: EMAIL, connector: 'local', client: CLIENT_ID },
    );
    assert.equal(typeof logins[0]?.reqId, 'string');
  });

  it('says why a 429 was sent', async () => {
    const browser = new Browser();
    const { page } = await browser.follow(authUrl(logged), REDIRECT);
    const [form] = formsOf(page);
    assert.ok(form);
    let response = await browser.request(form.action, { form: { ...form.fields, login: 'x', password: 'y' } });
    for (let i = 0; i < 100 && response.status !== 429; i++)
      response = await browser.request(form.action, { form: { ...form.fields, login: 'x', password: 'y' } });
    assert.equal(response.status, 429);
    const line = reasonLine(logged, response.headers.get('x-request-id'));
    assert.equal(line.level, 'warn');
    assert.equal(line.msg, 'too many attempts from this address');
    assert.ok(Number(line.retry_after) > 0);
  });
});

describe('log formats and levels', () => {
  it('writes readable text lines, one per request', async () => {
    const logged = await startLogged('text');
    try {
      const response = await fetch(`${logged.issuer}/keys`);
      const id = response.headers.get('x-request-id') ?? '';
      const lines = logged
        .text()
        .split('\n')
        .filter((line) => line.includes(`reqId=${id}`));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(
        lines[0] ?? '',
        /^time=\S+ level=INFO msg="GET \/dex\/keys 200" reqId=\S+ method=GET url=\/dex\/keys /,
      );
    } finally {
      await logged.close();
    }
  });

  it('logs health probes at debug', async () => {
    const logged = await startLogged('json', 'debug');
    try {
      const response = await fetch(`${logged.origin}/healthz/ready`);
      const [line] = linesFor(logged, response.headers.get('x-request-id'));
      assert.deepEqual({ level: line?.level, msg: line?.msg }, { level: 'debug', msg: 'GET /healthz/ready 200' });
    } finally {
      await logged.close();
    }
  });
});
