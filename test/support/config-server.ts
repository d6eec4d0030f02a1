/**
 * Starts idport the way `idport serve` does — YAML text through the real config loader and createServer —
 * on a free loopback port. `{{PORT}}` in the YAML is replaced with that port.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { createServer, type Server } from '../../src/server.js';

export interface ConfigServer {
  readonly port: number;
  readonly origin: string;
  readonly issuer: string;
  readonly server: Server;
  close(): Promise<void>;
}

export const freePort = async (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

export const startFromConfig = async (
  yaml: string,
  options: { port?: number; env?: Record<string, string> } = {},
): Promise<ConfigServer> => {
  const port = options.port ?? (await freePort());
  const config = loadConfig(yaml.replaceAll('{{PORT}}', String(port)), 'config.yaml', {
    env: options.env ?? {},
    connectorSchemas: connectorSchemas(),
  });
  const server = await createServer(config, { log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await server.app.listen({ host: '127.0.0.1', port });
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    issuer: server.provider.settings.issuer,
    server,
    close: () => server.close(),
  };
};
