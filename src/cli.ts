/**
 * The `idport` command: serve, check-config, hash-password, version. Config errors exit 2 with every
 * problem listed and no stack trace; SIGTERM/SIGINT drain in-flight requests and exit 0.
 */
import { createInterface } from 'node:readline';
import { hashBcrypt } from '../connectors/local/bcrypt.js';
import { connectorSchemas } from '../connectors/registry.js';
import { parseServeArgs, type ServeOverrides } from './config/flags.js';
import { ConfigError, readConfigFile, type LoadedConfig } from './config/load.js';
import { createLogger } from './log.js';
import { configWarnings, formatWarning } from './config/warnings.js';
import { describeConfig } from './config-summary.js';
import { probe, probeUrl } from './healthcheck.js';
import { packageVersion } from './package-version.js';
import { createServer } from './server.js';
import { withoutDexWord } from './argv.js';

const USAGE = `Usage: idport <command>

Commands:
  serve [flags] CONFIG  start the provider with a config file (Dex's config.yaml format); Dex's flags
                        --web-http-addr, --web-https-addr, --telemetry-addr, --grpc-addr replace the config's addresses
  check-config [--strict] CONFIG
                        validate a config file and list its listeners, clients and connectors; exit 0 when valid
                        (unknown keys are warnings, errors with --strict), 2 when not
  hash-password         print a bcrypt hash for staticPasswords: asks twice on a terminal, or reads a pipe
                        (echo -n 'secret' | idport hash-password) and prints only the hash
  healthcheck [CONFIG]  probe /healthz/live on the listener CONFIG (default /etc/idport/config.yaml) sets up;
                        exit 0 when healthy (the container image's HEALTHCHECK)
  version               print the version
`;

/** Exit codes: 2 for a config or usage error, as Dex and most CLIs use for "you gave me something wrong". */
const EXIT_USAGE = 2;

interface LoadOptions {
  readonly overrides?: ServeOverrides | undefined;
  readonly strict?: boolean | undefined;
}

const load = async (path: string | undefined, options: LoadOptions = {}): Promise<LoadedConfig> => {
  if (path === undefined) {
    process.stderr.write(USAGE);
    process.exit(EXIT_USAGE);
  }
  return readConfigFile(path, { env: process.env, connectorSchemas: connectorSchemas(), ...options });
};

const serve = async (args: readonly string[]): Promise<void> => {
  const parsed = parseServeArgs(args);
  if (typeof parsed === 'string') {
    process.stderr.write(`idport: ${parsed}\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  const { config, warnings } = await load(parsed.configPath, { overrides: parsed.overrides });
  const log = createLogger({ level: config.logger.level, format: config.logger.format });
  for (const warning of warnings) log.warn({ key: warning.key, at: warning.at }, formatWarning(warning));
  const server = await createServer(config, { log });
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
  // Before listening: a supervisor that stops idport as soon as it announces itself must not meet the default
  // disposition, which kills the process without draining (and exits by signal rather than with 0).
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const addresses = await server.listen();
  if (stopping) return;
  server.startTimers();
  log.info(
    { issuer: server.provider.settings.issuer, ...addresses, connectors: [...server.provider.connectors.keys()] },
    'idport listening',
  );
};

/** All of stdin (a pipe or a file), without the final newline. */
const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
};

/**
 * Asks on the terminal without echoing what is typed: the prompt is shown, the keys are not. readline writes both
 * through _writeToOutput, so it is muted only after the prompt is out.
 */
const askHidden = async (prompts: readonly string[]): Promise<string[]> => {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  let muted = false;
  const output = rl as unknown as { _writeToOutput: (s: string) => void };
  output._writeToOutput = (text: string) => {
    if (!muted) process.stderr.write(text);
  };
  const answers: string[] = [];
  for (const prompt of prompts) {
    muted = false;
    const answer = new Promise<string>((resolve) => rl.question(prompt, resolve));
    muted = true;
    answers.push(await answer);
    process.stderr.write('\n');
  }
  rl.close();
  return answers;
};

/** The password to hash: from a pipe as it is, or typed twice on a terminal. */
const readPassword = async (): Promise<string> => {
  if (!process.stdin.isTTY) return readStdin();
  const [first = '', second = ''] = await askHidden(['Password: ', 'Repeat the password: ']);
  if (first !== second) {
    process.stderr.write('idport: the passwords do not match; nothing was hashed\n');
    process.exit(EXIT_USAGE);
  }
  return first;
};

const hashPassword = async (): Promise<void> => {
  const password = await readPassword();
  if (password === '') {
    process.stderr.write('idport: an empty password cannot be hashed\n');
    process.exit(EXIT_USAGE);
  }
  if (password.includes('\0')) {
    // The native bcrypt reads a C string, and logins refuse such passwords (connectors/local/bcrypt.ts).
    process.stderr.write('idport: a password cannot contain a NUL character\n');
    process.exit(EXIT_USAGE);
  }
  // Cost 10 is Dex's default and within the accepted 10–16 range; the same library logins compare with.
  process.stdout.write(`${await hashBcrypt(password, 10)}\n`);
  if (process.stdin.isTTY) process.stderr.write('Put this under staticPasswords[].hash (quoted, it holds "$").\n');
};

/**
 * An error's message followed by its causes' ("cannot open database x: table keys already exists"), so the reason
 * a start failed is never hidden. Storage errors carry driver messages, which name tables and codes, not values.
 */
const withCauses = (err: unknown): string => {
  const messages: string[] = [];
  for (let current: unknown = err; current !== undefined && messages.length < 5;) {
    messages.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(': ');
};

export const main = async (argv: readonly string[]): Promise<void> => {
  // `idport check-config x | head -1`: a reader that stops early is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const [command, ...rest] = withoutDexWord(argv);
  const strict = rest.includes('--strict');
  const arg = rest.find((a) => a !== '--strict');
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'check-config': {
        const { config, warnings } = await load(arg, { strict });
        process.stdout.write(
          `${arg}: valid (issuer ${config.issuer}, storage ${config.storage.type}, ${config.staticClients.length} static client(s), ${config.connectors.length} connector(s))\n`,
        );
        process.stdout.write(`${describeConfig(config).join('\n')}\n`);
        for (const warning of [...warnings, ...configWarnings(config)])
          process.stderr.write(`idport: warning: ${formatWarning(warning)}\n`);
        return;
      }
      case 'hash-password':
        return await hashPassword();
      case 'healthcheck': {
        const { config } = await load(arg ?? '/etc/idport/config.yaml');
        const url = probeUrl(config);
        const healthy = await probe(url);
        process.stdout.write(`${url}: ${healthy ? 'healthy' : 'not healthy'}\n`);
        return process.exit(healthy ? 0 : 1);
      }
      case 'version':
      case '--version':
        process.stdout.write(`idport ${packageVersion()}\n`);
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
    process.stderr.write(`idport: ${withCauses(err)}\n`);
    process.exit(1);
  }
};

await main(process.argv.slice(2));
