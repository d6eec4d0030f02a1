/**
 * Several idport replicas behind one issuer, on one PostgreSQL schema: their YAML, starting them
 * in-process (with an injectable clock), driving a login and the token endpoint over real HTTP, an
 * HTTP load balancer, and a TCP proxy in front of PostgreSQL that a test can cut, black-hole and restore.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import {
  createServer as createNetServer,
  connect,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import * as oidc from 'openid-client';
import { pino } from 'pino';
import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/deps.js';
import { createServer, type Server } from '../../src/server.js';
import { Browser, loginThroughPages } from '../support/browser.js';
import { DEMO_HASH, demoUser } from '../support/idport.js';

/** The client's redirect URI; nothing listens there, the browser stops at it. */
export const REDIRECT = 'http://127.0.0.1:5555/callback';
export const CLIENT_ID = 'example-app';
export const CLIENT_SECRET = 'example-secret';

/** What differs between the replicas' YAML in a test. */
export interface ReplicaYaml {
  /** Shared by every replica: they stand behind one issuer (one load balancer address). */
  readonly issuer: string;
  readonly port: number;
  /** postgres URL, with search_path in `options`, as an operator would write it. */
  readonly url: string;
  readonly reuseInterval?: string;
  readonly signingKeys?: string;
  readonly logLevel?: string;
}

/** A Dex-style config.yaml for one replica: PostgreSQL storage, one static client, the demo user. */
export const replicaYaml = (o: ReplicaYaml): string => `issuer: ${o.issuer}
storage:
  type: postgres
  config:
    url: ${JSON.stringify(o.url)}
    connectionTimeout: 2
    ssl:
      mode: disable
web:
  http: 127.0.0.1:${o.port}
logger:
  level: ${o.logLevel ?? 'error'}
  format: json
oauth2:
  skipApprovalScreen: true
expiry:
  signingKeys: ${o.signingKeys ?? '6h'}
  refreshTokens:
    reuseInterval: ${o.reuseInterval ?? '3s'}
staticClients:
- id: ${CLIENT_ID}
  name: Example App
  secret: ${CLIENT_SECRET}
  redirectURIs: ['${REDIRECT}']
enablePasswordDB: true
staticPasswords:
- email: ${demoUser.email}
  hash: '${DEMO_HASH}'
  username: ${demoUser.username}
  userID: ${demoUser.userId}
`;

/** One in-process replica, listening. */
export interface Replica {
  readonly origin: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts a replica as `idport serve` would (real config loader, createServer), optionally on an injected clock. */
export async function startReplica(yaml: string, port: number, clock?: Clock): Promise<Replica> {
  const config = loadConfig(yaml, 'config.yaml', { env: {}, connectorSchemas: connectorSchemas() });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const deps = clock === undefined ? undefined : { clock, randomBytes, fetch: globalThis.fetch };
  const server = await createServer(config, { log, ...(deps !== undefined ? { deps } : {}) });
  await server.app.listen({ host: '127.0.0.1', port });
  // Port 0 binds a free port: the origin names the one bound.
  const bound = (server.app.server.address() as AddressInfo).port;
  return { origin: `http://127.0.0.1:${bound}`, server, close: () => server.close() };
}

/** openid-client's view of the issuer; `tokenOrigin` sends token requests to one replica, as a load balancer might. */
export async function clientFor(issuer: string, tokenOrigin?: string): Promise<oidc.Configuration> {
  const discovered = await oidc.discovery(new URL(issuer), CLIENT_ID, CLIENT_SECRET, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  if (tokenOrigin === undefined) return discovered;
  // Only the data members: serverMetadata() also carries helper methods.
  const { supportsPKCE: _helper, ...metadata } = discovered.serverMetadata();
  const path = new URL(metadata.token_endpoint ?? `${issuer}/token`).pathname;
  const pinned = new oidc.Configuration(
    { ...metadata, token_endpoint: `${tokenOrigin}${path}` },
    CLIENT_ID,
    CLIENT_SECRET,
  );
  oidc.allowInsecureRequests(pinned);
  return pinned;
}

/** Logs the demo user in through the password page with code + PKCE and returns the tokens. */
export async function login(client: oidc.Configuration): Promise<oidc.TokenEndpointResponse> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT,
    scope: 'openid email profile offline_access',
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await loginThroughPages(new Browser(), url, REDIRECT);
  const tokens = await oidc.authorizationCodeGrant(client, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  return tokens;
}

/** A raw token-endpoint answer: status and JSON body. */
export interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** Milliseconds from sending to the full answer. */
  readonly ms: number;
}

/** POSTs a refresh grant to one replica's token endpoint with client_secret_basic. */
export async function refreshAt(origin: string, refreshToken: string): Promise<TokenAnswer> {
  const started = performance.now();
  const response = await fetch(`${origin}/dex/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, ms: performance.now() - started };
}

/** GET /healthz/ready: its status and how long it took. */
export async function readiness(origin: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${origin}/dex/healthz/ready`);
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

/** How the proxy treats traffic: pass it, refuse connections (port closed), or swallow it (a partition). */
export type ProxyMode = 'forward' | 'refused' | 'blackhole';

/** A TCP proxy to PostgreSQL that a test controls. */
export interface DbProxy {
  readonly port: number;
  /** Closes the listening port and resets every connection: the database host is gone. */
  cut(): Promise<void>;
  /** Keeps the port open but stops moving bytes, on old and new connections: packets are dropped. */
  blackhole(): void;
  /** Back to normal; connections stalled by a black hole are reset (a healed partition's peers have long given up). */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target` (host:port). */
export async function startDbProxy(target: { host: string; port: number }): Promise<DbProxy> {
  let mode: ProxyMode = 'forward';
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A reset from either side is expected here; the pair is torn down below.
    socket.on('error', () => undefined);
  };
  const onConnection = (downstream: Socket): void => {
    track(downstream);
    if (mode !== 'forward') return; // black hole: accept and never answer
    const upstream = connect(target.port, target.host);
    track(upstream);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.on('close', () => upstream.destroy());
    upstream.on('close', () => downstream.destroy());
  };
  let server: NetServer = createNetServer(onConnection);
  const listen = async (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  const port = await listen(0);
  const resetAll = (): void => {
    for (const socket of sockets) socket.resetAndDestroy();
  };
  const stopListening = async (): Promise<void> => {
    if (!server.listening) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    cut: async () => {
      mode = 'refused';
      const closed = stopListening();
      resetAll();
      await closed;
    },
    blackhole: () => {
      mode = 'blackhole';
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
      }
    },
    restore: async () => {
      resetAll();
      mode = 'forward';
      if (!server.listening) {
        server = createNetServer(onConnection);
        await listen(port);
      }
    },
    close: async () => {
      resetAll();
      await stopListening();
    },
  };
}

/** An HTTP load balancer in front of replicas: round-robin per request, or pinned to one replica. */
export interface Balancer {
  readonly origin: string;
  /** Requests each replica received through the balancer. */
  readonly hits: number[];
  /** Sends every request to replica `index`, or back to round-robin with undefined. */
  pin(index: number | undefined): void;
  close(): Promise<void>;
}

/** Starts a balancer on `port` forwarding to loopback `targets` (ports). No stickiness: replicas must share all state. */
export async function startBalancer(port: number, targets: readonly number[]): Promise<Balancer> {
  const hits = targets.map(() => 0);
  let pinned: number | undefined;
  let next = 0;
  const server = createHttpServer((req, res) => {
    const index = pinned ?? next++ % targets.length;
    hits[index] = (hits[index] ?? 0) + 1;
    const upstream = httpRequest(
      { host: '127.0.0.1', port: targets[index], method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  // No keep-alive to the client: each request is balanced on its own, as with an L7 balancer.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    hits,
    pin: (index) => {
      pinned = index;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
