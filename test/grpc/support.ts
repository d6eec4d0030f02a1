/**
 * Drives idport's gRPC API with an independent client: Python's grpcio, with stubs protoc generates from the proto
 * (test/grpc/dex_api_client.py), over a real socket to a server started from YAML as `idport serve` starts it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { connectorSchemas } from '../../connectors/registry.js';
import type { Env } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import { createServer, type ListenAddresses, type Server } from '../../src/server.js';
import { Browser, loginThroughPages } from '../support/browser.js';

const PROTO = fileURLToPath(new URL('../../src/grpc/api.proto', import.meta.url));
const CLIENT = fileURLToPath(new URL('./dex_api_client.py', import.meta.url));
/** Debian's python3-grpcio and python3-grpc-tools are installed for the system interpreter. */
const PYTHON = '/usr/bin/python3';

/** One call's outcome: the reply, or the gRPC status code name and details. */
export type Outcome = { readonly reply: Record<string, unknown> } | { readonly code: string; readonly details: string };

export interface Channel {
  readonly target: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Runs the calls, in order, on one channel of the independent client. */
export const callApi = async (
  channel: Channel,
  calls: readonly { method: string; request?: Record<string, unknown> }[],
): Promise<Outcome[]> => {
  const args = [CLIENT, PROTO, channel.target];
  if (channel.ca !== undefined) args.push('--ca', channel.ca, '--server-name', 'localhost');
  if (channel.cert !== undefined && channel.key !== undefined) args.push('--cert', channel.cert, '--key', channel.key);
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile(PYTHON, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
    child.stdin?.end(JSON.stringify(calls));
  });
  return JSON.parse(output) as Outcome[];
};

/** One call whose reply is expected. */
export const call = async (
  channel: Channel,
  method: string,
  request: Record<string, unknown> = {},
): Promise<Record<string, unknown>> => {
  const [outcome] = await callApi(channel, [{ method, request }]);
  assert.ok(outcome && 'reply' in outcome, `${method}: expected a reply, got ${JSON.stringify(outcome)}`);
  return outcome.reply;
};

/** One call whose error is expected: its status code name and text. */
export const callError = async (
  channel: Channel,
  method: string,
  request: Record<string, unknown> = {},
): Promise<{ code: string; details: string }> => {
  const [outcome] = await callApi(channel, [{ method, request }]);
  assert.ok(outcome && 'code' in outcome, `${method}: expected an error, got ${JSON.stringify(outcome)}`);
  return outcome;
};

export const REDIRECT = 'http://127.0.0.1:5555/callback';

/** A config with a static client, the password DB with one static user, and the given grpc block and extras. */
export const apiConfig = (grpc: string, extra = ''): string => `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:0
oauth2:
  skipApprovalScreen: true
staticClients:
- id: static-app
  name: Static App
  secret: static-secret
  redirectURIs: ['${REDIRECT}']
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: "$2b$10$YSTrr.rdrfbKx4KchJqelOzDrWI4vS9/N8eMIt1vtSvsnAWN2alzq"
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
grpc:
${grpc}
${extra}`;

export interface StartedApi {
  readonly server: Server;
  readonly addresses: ListenAddresses;
  readonly origin: string;
  /** A plaintext channel to the API. */
  readonly channel: Channel;
  logs(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** Starts idport from YAML (real loader, createServer, listen) with the given environment. */
export const startApi = async (yaml: string, env: Env = {}): Promise<StartedApi> => {
  const config = loadConfig(yaml, 'config.yaml', { env, connectorSchemas: connectorSchemas() });
  let written = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.toString('utf8');
      callback();
    },
  });
  const server = await createServer(config, { log: pino({ level: 'info' }, sink), env });
  const addresses = await server.listen();
  assert.ok(addresses.grpc, 'the API listens');
  return {
    server,
    addresses,
    origin: `http://${addresses.http ?? ''}`,
    channel: { target: addresses.grpc },
    logs: () =>
      written
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    close: () => server.close(),
  };
};

/** A browser login through the pages (password form, approval) for a client; returns the token response. */
export const loginAndRedeem = async (
  origin: string,
  client: { id: string; secret: string },
  credentials: { login: string; password: string },
  extra: Record<string, string> = {},
): Promise<Record<string, unknown>> => {
  const url = `${origin}/dex/auth?${new URLSearchParams({
    client_id: client.id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email offline_access',
    state: 'the-state',
    ...extra,
  }).toString()}`;
  const location = await loginThroughPages(new Browser(), url, REDIRECT, credentials);
  const code = new URL(location).searchParams.get('code');
  assert.ok(code, `expected a code at ${location}`);
  return tokenRequest(origin, client, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
};

/** POST /token with client_secret_basic; the JSON body, with the status under `status`. */
export const tokenRequest = async (
  origin: string,
  client: { id: string; secret: string },
  form: Record<string, string>,
): Promise<Record<string, unknown>> => {
  const response = await fetch(`${origin}/dex/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, ...((await response.json()) as Record<string, unknown>) };
};

/** The `sub` of an ID token (its payload, unverified: the tests only need the subject the server chose). */
export const subjectOf = (idToken: unknown): string => {
  assert.equal(typeof idToken, 'string');
  const payload = JSON.parse(Buffer.from(String(idToken).split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    sub?: unknown;
  };
  assert.equal(typeof payload.sub, 'string');
  return String(payload.sub);
};
