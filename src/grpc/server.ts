/**
 * The gRPC listener of Dex's API (cmd/dex/serve.go): the proto in this folder served by @grpc/grpc-js, with TLS when
 * `grpc.tlsCert` is set, a verified client certificate required when `grpc.tlsClientCA` is set, and server
 * reflection only when `grpc.reflection` is true. Each call is counted in go-grpc-prometheus's metrics.
 */
import { readFileSync } from 'node:fs';
import type { SecureServerOptions } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { GrpcConfig } from '../config/grpc.js';
import { dexApi } from './api.js';
import { ApiError, type ApiContext, type Handler } from './common.js';

const PROTO = new URL('./api.proto', import.meta.url);

/** Dex's proto, decoded with its field names as written and defaults filled in (as Go sees an absent field). */
export const loadDexProto = (): protoLoader.PackageDefinition =>
  protoLoader.loadSync(PROTO.pathname, { keepCase: true, longs: Number, enums: String, defaults: true });

/**
 * TLS for the listener: the server certificate, and with a client CA a required, verified client certificate.
 * grpc-js's createSsl takes no TLS versions, so the same options are given to its credentials base class directly.
 */
class TlsServerCredentials extends grpc.ServerCredentials {
  constructor(server: SecureServerOptions, context: SecureContextOptions) {
    super(server, context);
  }
  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

const tlsVersion = (version: '1.2' | '1.3' | undefined) =>
  version === undefined ? undefined : (`TLSv${version}` as const);

/** The listener's credentials from the `grpc` block (files read once, at start). */
export const grpcCredentials = (config: GrpcConfig): grpc.ServerCredentials => {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return grpc.ServerCredentials.createInsecure();
  const requireClientCert = config.tlsClientCA !== undefined;
  return new TlsServerCredentials(
    { requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
    {
      cert: readFileSync(config.tlsCert),
      key: readFileSync(config.tlsKey),
      ...(config.tlsClientCA !== undefined ? { ca: readFileSync(config.tlsClientCA) } : {}),
      // Dex's default minimum; the maximum is the runtime's unless set.
      minVersion: tlsVersion(config.tlsMinVersion) ?? 'TLSv1.2',
      ...(config.tlsMaxVersion !== undefined ? { maxVersion: tlsVersion(config.tlsMaxVersion) } : {}),
    },
  );
};

/** go-grpc-prometheus's server counters, labelled as Dex's /metrics shows them. */
interface CallMetrics {
  readonly started: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  readonly handled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
}

const callMetrics = (registry: Registry): CallMetrics => ({
  started: new Counter({
    name: 'grpc_server_started_total',
    help: 'Total number of RPCs started on the server.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    registers: [registry],
  }),
  handled: new Counter({
    name: 'grpc_server_handled_total',
    help: 'Total number of RPCs completed on the server, regardless of success or failure.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
    registers: [registry],
  }),
});

const CODE_NAMES: Record<number, string> = { [grpc.status.OK]: 'OK', [grpc.status.UNKNOWN]: 'Unknown' };

/** A handler as a grpc-js unary call: an ApiError is its text with code UNKNOWN (a Go error returned by Dex). */
const unary =
  (
    method: string,
    handler: Handler,
    log: Logger,
    metrics: CallMetrics | undefined,
  ): grpc.handleUnaryCall<unknown, unknown> =>
  (call, callback) => {
    const labels = { grpc_type: 'unary', grpc_service: 'api.Dex', grpc_method: method };
    metrics?.started.inc(labels);
    const request = (call.request ?? {}) as Record<string, unknown>;
    handler(request).then(
      (reply) => {
        metrics?.handled.inc({ ...labels, grpc_code: CODE_NAMES[grpc.status.OK] });
        callback(null, reply);
      },
      (err: unknown) => {
        metrics?.handled.inc({ ...labels, grpc_code: CODE_NAMES[grpc.status.UNKNOWN] });
        if (!(err instanceof ApiError)) log.error({ err, method }, 'gRPC API call failed');
        const details = err instanceof ApiError ? err.message : `${method}: internal error`;
        callback({ code: grpc.status.UNKNOWN, details });
      },
    );
  };

/** A listening API server. */
export interface GrpcListener {
  /** host:port with the port actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

export interface GrpcOptions {
  readonly config: GrpcConfig & { readonly addr: string };
  readonly context: ApiContext;
  readonly log: Logger;
  /** Where the call counters go (the telemetry registry), when metrics are served. */
  readonly registry?: Registry | undefined;
}

/** Starts the API on `grpc.addr`; the warning about an unauthenticated admin API is logged here. */
export const startGrpc = async (options: GrpcOptions): Promise<GrpcListener> => {
  const { config, log } = options;
  const definition = loadDexProto();
  const service = (grpc.loadPackageDefinition(definition).api as grpc.GrpcObject).Dex as grpc.ServiceClientConstructor;
  const handlers = dexApi(options.context);
  const metrics = options.registry === undefined ? undefined : callMetrics(options.registry);
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(service.service)) {
    const handler = handlers[method];
    if (handler !== undefined) implementation[method] = unary(method, handler, log, metrics);
  }
  const server = new grpc.Server();
  server.addService(service.service, implementation);
  if (config.reflection) {
    log.info('enabling reflection in grpc service');
    new ReflectionService(definition).addToServer(server);
  }
  if (config.tlsClientCA === undefined)
    log.warn(
      { addr: config.addr },
      'the gRPC API has no grpc.tlsClientCA: anyone who can reach this port has full admin access (clients, passwords, connectors); set tlsCert, tlsKey and tlsClientCA, or keep the port private',
    );
  const credentials = grpcCredentials(config);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bindTarget(config.addr), credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  const host = config.addr.slice(0, config.addr.lastIndexOf(':'));
  const address = `${host === '' ? '0.0.0.0' : host}:${port}`;
  log.info({ server: 'grpc', address }, 'listening on');
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
};

/** Dex's ":5557" (every interface) as grpc-js spells it. */
const bindTarget = (addr: string): string => (addr.startsWith(':') ? `0.0.0.0${addr}` : addr);
