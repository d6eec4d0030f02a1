/**
 * Starts idport from YAML as `idport serve` does (real config loader, createServer, Server.listen) with every
 * address on port 0, and keeps its JSON log lines for assertions.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { createServer, type ListenAddresses, type Server } from '../../src/server.js';
import { Browser, formsOf } from '../support/browser.js';

/** The redirect URI of the config's client; nothing listens there, the browser stops at it. */
export const REDIRECT = 'http://127.0.0.1:5555/callback';
export const CLIENT_ID = 'example-app';
export const CLIENT_SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
export const EMAIL = 'admin@example.com';
/** The password whose bcrypt hash is in `configYaml` (the one in config.example.yaml). */
export const PASSWORD = 'password';

/** A config with one client and one static password; `web` and `extra` are spliced in as YAML. */
export const configYaml = (
  web = 'web:\n  http: 127.0.0.1:0\n',
  extra = '',
): string => `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
${web}staticClients:
- id: ${CLIENT_ID}
  name: Example App
  secret: ${CLIENT_SECRET}
  redirectURIs: ['${REDIRECT}']
enablePasswordDB: true
staticPasswords:
- email: ${EMAIL}
  hash: "$2b$10$YSTrr.rdrfbKx4KchJqelOzDrWI4vS9/N8eMIt1vtSvsnAWN2alzq"
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
${extra}`;

export interface Started {
  readonly server: Server;
  readonly addresses: ListenAddresses;
  /** http://host:port of the plain web listener (or the https one when there is no plain one). */
  readonly origin: string;
  /** Every log line so far, parsed. */
  logs(): Record<string, unknown>[];
  close(): Promise<void>;
}

export const start = async (yaml: string): Promise<Started> => {
  const config = loadConfig(yaml, 'config.yaml', { env: {}, connectorSchemas: connectorSchemas() });
  let written = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.toString('utf8');
      callback();
    },
  });
  const server = await createServer(config, { log: pino({ level: 'info' }, sink) });
  const addresses = await server.listen();
  return {
    server,
    addresses,
    origin: addresses.http !== undefined ? `http://${addresses.http}` : `https://${addresses.https ?? ''}`,
    logs: () =>
      written
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    close: () => server.close(),
  };
};

/** The authorization URL of the config's client on `origin`. */
export const authorizationUrl = (origin: string): string =>
  `${origin}/dex/auth?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 'the-state' }).toString()}`;

/** Follows /auth to the password form, which a test then posts to. */
export const passwordForm = async (browser: Browser, origin: string) => {
  const step = await browser.follow(authorizationUrl(origin), REDIRECT);
  const [form] = formsOf(step.page);
  assert.ok(form, `expected the password form, got ${step.page.status}: ${step.page.body.slice(0, 200)}`);
  return form;
};

/** Logs in (after `wrongAttempts` wrong passwords), approves, and redeems the code at /token; returns the token response. */
export const loginAndRedeem = async (origin: string, wrongAttempts = 0): Promise<Record<string, unknown>> => {
  const browser = new Browser();
  const form = await passwordForm(browser, origin);
  for (let i = 0; i < wrongAttempts; i++) {
    const wrong = await browser.request(form.action, {
      form: { ...form.fields, login: EMAIL, password: `wrong-${i}` },
    });
    assert.equal(wrong.status, 401);
  }
  let step = await browser.submit(form, { login: EMAIL, password: PASSWORD }, REDIRECT);
  if (step.location === undefined) {
    const [approval] = formsOf(step.page);
    assert.ok(approval, `expected the approval form, got ${step.page.status}`);
    step = await browser.submit(approval, { approval: 'approve' }, REDIRECT);
  }
  assert.ok(step.location, 'the flow ends at the client');
  const code = new URL(step.location).searchParams.get('code');
  assert.ok(code);
  const response = await fetch(`${origin}/dex/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }).toString(),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
};

/** A self-signed certificate for 127.0.0.1, made by openssl. */
export const selfSigned = (where: string): { cert: string; key: string } => {
  const cert = join(where, 'tls.crt');
  const key = join(where, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=idport test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
};

/** GET over TLS trusting only `ca`; the body and the certificate the server presented. */
export const httpsGet = (url: string, ca: Buffer): Promise<{ status: number; body: string; subject: string }> =>
  new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      const subject = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (body += chunk))
        .on('end', () => resolve({ status: res.statusCode ?? 0, body, subject }));
    });
    req.on('error', reject).end();
  });
