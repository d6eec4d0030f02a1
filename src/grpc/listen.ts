/** Starts Dex's gRPC API for a running provider when the config has `grpc.addr` (src/server.ts calls it). */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GrpcConfig } from '../config/grpc.js';
import { isFeatureEnabled, type Env } from '../config/env.js';
import { discoveryDocument } from '../oauth/discovery.js';
import type { Provider } from '../oauth/provider.js';
import { startGrpc, type GrpcListener } from './server.js';

export interface ApiListenOptions {
  readonly config: GrpcConfig;
  readonly provider: Provider;
  /** idport's version for GetVersion. */
  readonly version: string;
  /** For Dex's feature flag `DEX_API_CONNECTORS_CRUD`. */
  readonly env: Env;
  readonly log: Logger;
  readonly registry?: Registry | undefined;
}

/** The API listener, or undefined when `grpc.addr` is not set (Dex serves no API then). */
export const listenApi = async (options: ApiListenOptions): Promise<GrpcListener | undefined> => {
  const { config, provider } = options;
  const addr = config.addr;
  if (addr === undefined) return undefined;
  return startGrpc({
    config: { ...config, addr },
    log: options.log,
    registry: options.registry,
    context: {
      storage: provider.storage,
      version: options.version,
      discovery: () => discoveryDocument(provider.settings, provider.signer.signingAlgorithms()),
      connectorsCrud: isFeatureEnabled(options.env, 'DEX_API_CONNECTORS_CRUD', false),
      connectorsChanged: async () => provider.connectors.sync?.(),
      randomBytes: provider.deps.randomBytes,
    },
  });
};
