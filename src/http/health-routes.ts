/** Liveness and readiness (Kubernetes probes) and Dex's /healthz. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Storage } from '../../storage/storage.js';

/** A readiness check must answer quickly even when the database hangs. */
const READY_TIMEOUT_MS = 2_000;

const storageAnswers = async (storage: Storage): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      storage.ping().then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * `dexText`: /healthz answers as Dex's web listener does (server/server.go): "Health check passed" as text, or a 500
 * "Health check failed." The telemetry listener keeps JSON, as Dex's answers there in JSON too.
 */
export const healthRoutes = async (
  app: FastifyInstance,
  options: { storage: Storage; dexText?: boolean },
): Promise<void> => {
  const { storage } = options;
  app.get('/healthz/live', async (_request, reply) => {
    void reply.header('Cache-Control', 'no-store').send({ status: 'ok' });
  });
  const ready = async (_request: unknown, reply: FastifyReply): Promise<void> => {
    const ok = await storageAnswers(storage);
    void reply
      .code(ok ? 200 : 503)
      .header('Cache-Control', 'no-store')
      .send({ status: ok ? 'ok' : 'unavailable', checks: { storage: ok ? 'ok' : 'unavailable' } });
  };
  app.get('/healthz/ready', ready);
  if (options.dexText !== true) {
    app.get('/healthz', ready);
    return;
  }
  app.get('/healthz', async (_request, reply) => {
    const ok = await storageAnswers(storage);
    void reply
      .code(ok ? 200 : 500)
      .header('Cache-Control', 'no-store')
      .type('text/plain; charset=utf-8')
      .send(ok ? 'Health check passed' : 'Health check failed.');
  });
};
