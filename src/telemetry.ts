/**
 * The telemetry listener (Dex's `telemetry.http`): `/metrics` in Prometheus format and the health checks, on an
 * address of its own so metrics never reach the public listener. `createServer` builds it; it never listens itself.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Storage } from '../storage/storage.js';
import { healthRoutes } from './http/health-routes.js';
import { exposition, type HttpMetrics } from './http/metrics.js';
import { WITHOUT_SCHEMA_COMPILERS } from './http/no-schemas.js';

export interface TelemetryAppOptions {
  readonly metrics: HttpMetrics;
  /** Checked by /healthz and /healthz/ready. */
  readonly storage: Storage;
  readonly log: Logger;
}

export const buildTelemetryApp = async (options: TelemetryAppOptions): Promise<FastifyInstance> => {
  const app = Fastify({
    // Scrapes and probes arrive every few seconds: their request lines (info) would bury everything else.
    loggerInstance: options.log.child({}, { level: 'warn' }) as FastifyBaseLogger,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    forceCloseConnections: 'idle',
    schemaController: WITHOUT_SCHEMA_COMPILERS,
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await exposition(options.metrics);
    void reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });
  await app.register(healthRoutes, { storage: options.storage });
  return app;
};
