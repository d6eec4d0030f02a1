/**
 * The `idport` command: serve, check-config, hash-password, version. Config errors exit 2 with every
 * problem listed and no stack trace; SIGTERM/SIGINT drain in-flight requests and exit 0.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import bcrypt from 'bcryptjs';
import { connectorSchemas } from '../connectors/registry.js';
import { ConfigError, loadConfig, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger } from './log.js';
import { configWarnings } from './config/warnings.js';
import { configTextWithOverrides, parseServeArguments, type ServeArguments } from './listen-flags.js';
import { createServer } from './server.js';

const USAGE = `Usage: idport <command>

Commands:
  serve [--web-http-addr A] [--web-https-addr A] [--telemetry-addr A] CONFIG
                        start the provider with a config file (Dex's config.yaml format); the flags
                        override the listen addresses, as Dex's do
  check-config CONFIG   validate a config file; exit 0 when valid, 2 when not
  hash-password         read a password from stdin (or a prompt) and print a bcrypt hash for staticPasswords
  version               print the version
`;

/** Exit codes: 2 for a config or usage error, as Dex and most CLIs use for "you gave me something wrong". */
const EXIT_USAGE = 2;

const version = (): string => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
};

const load = async (path: string | undefined): Promise<Config> => {
  if (path === undefined) {
    process.stderr.write(USAGE);
    process.exit(EXIT_USAGE);
  }
  return loadConfigFile(path, { env: process.env, connectorSchemas: connectorSchemas() });
};

/** Loads the config for `serve`, with Dex's listen-address flags applied (src/listen-flags.ts). */
const loadForServe = async (args: readonly string[]): Promise<Config> => {
  let parsed: ServeArguments;
  try {
    parsed = parseServeArguments(args);
  } catch (err: unknown) {
    process.stderr.write(`idport: ${(err as Error).message}\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  const path = parsed.configPath;
  if (parsed.overrides.length === 0 || path === undefined) return load(path);
  let text: string;
  try {
    text = await configTextWithOverrides(parsed, path);
  } catch {
    return load(path); // the loader reports an unreadable file in its own words
  }
  return loadConfig(text, path, { env: process.env, connectorSchemas: connectorSchemas() });
};

const serve = async (args: readonly string[]): Promise<void> => {
  const config = await loadForServe(args);
  const log = createLogger({ level: config.logger.level, format: config.logger.format });
  const server = await createServer(config, { log });
  const addresses = await server.listen();
  server.startTimers();
  log.info(
    { issuer: server.provider.settings.issuer, ...addresses, connectors: [...server.provider.connectors.keys()] },
    'idport listening',
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    server.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
};

const readPassword = async (): Promise<string> => {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Mute echo: readline writes what is typed through _writeToOutput.
  const muted = rl as unknown as { _writeToOutput: (s: string) => void };
  process.stderr.write('Password: ');
  muted._writeToOutput = () => undefined;
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
};

const hashPassword = async (): Promise<void> => {
  const password = await readPassword();
  if (password === '') {
    process.stderr.write('idport: an empty password cannot be hashed\n');
    process.exit(EXIT_USAGE);
  }
  // Cost 10 is Dex's default and within the accepted 10–16 range.
  process.stdout.write(`${await bcrypt.hash(password, 10)}\n`);
};

export const main = async (argv: readonly string[]): Promise<void> => {
  const [command, arg] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(argv.slice(1));
      case 'check-config': {
        const config = await load(arg);
        process.stdout.write(
          `${arg}: valid (issuer ${config.issuer}, storage ${config.storage.type}, ${config.staticClients.length} static client(s), ${config.connectors.length} connector(s))\n`,
        );
        for (const { key, message } of configWarnings(config))
          process.stderr.write(`idport: warning: ${key} ${message}\n`);
        return;
      }
      case 'hash-password':
        return await hashPassword();
      case 'version':
      case '--version':
        process.stdout.write(`idport ${version()}\n`);
        return;
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return;
      default:
        process.stderr.write(USAGE);
        process.exit(EXIT_USAGE);
    }
  } catch (err: unknown) {
    if (err instanceof ConfigError) {
      process.stderr.write(`idport: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(`idport: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
};

await main(process.argv.slice(2));
