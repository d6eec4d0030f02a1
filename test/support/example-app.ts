/**
 * idport started from config.example.yaml (memory storage, free ports in place of 5556 and 5555) and the example app
 * (examples/example-app) started as `npm run example-app` starts it, pointed at that idport; and headless Chromium.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { connectorSchemas } from '../../connectors/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { createServer, type Server } from '../../src/server.js';

export const freePort = async (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/** Debian's chromium, with the flags that keep it off the network and quiet in a sandbox-less container. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

/** config.example.yaml as `npm start` runs it, but on other ports and in memory. */
export const exampleConfigYaml = (idportPort: number, appPort: number, extra = ''): string =>
  readFileSync('config.example.yaml', 'utf8')
    .replaceAll('5556', String(idportPort))
    .replaceAll('5555', String(appPort))
    .replace(/^storage:\n {2}type: sqlite3\n {2}config:\n {4}file: \S+\n/m, 'storage:\n  type: memory\n')
    .concat(extra);

export interface ExampleSetup {
  readonly issuer: string;
  readonly appUrl: string;
  readonly server: Server;
  /** What the example app printed. */
  appOutput(): string;
  close(): Promise<void>;
}

const waitForOutput = (child: ChildProcess, text: RegExp, output: () => string): Promise<void> =>
  new Promise((resolve, reject) => {
    const check = (): void => {
      if (text.test(output())) resolve();
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output()}`)));
    check();
  });

/** idport from config.example.yaml on free ports; `appPort` is where its example-app client's redirect URIs point. */
export const startExampleIdport = async (
  appPort: number,
  extraYaml = '',
  edit: (yaml: string) => string = (yaml) => yaml,
): Promise<{ readonly issuer: string; readonly server: Server }> => {
  const idportPort = await freePort();
  const config = loadConfig(edit(exampleConfigYaml(idportPort, appPort, extraYaml)), 'config.example.yaml', {
    env: {},
    connectorSchemas: connectorSchemas(),
  });
  const server = await createServer(config, { log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await server.listen();
  return { issuer: `http://127.0.0.1:${idportPort}/dex`, server };
};

/** Starts idport from config.example.yaml and the example app against it, each on a free loopback port. */
export const startExample = async (extraYaml = '', edit?: (yaml: string) => string): Promise<ExampleSetup> => {
  const appPort = await freePort();
  const { issuer, server } = await startExampleIdport(appPort, extraYaml, edit);
  const child = spawn(process.execPath, ['examples/example-app/app.mjs'], {
    env: { ...process.env, ISSUER: issuer, LISTEN: `127.0.0.1:${appPort}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForOutput(child, /example app on/, () => output);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    issuer,
    appUrl: `http://127.0.0.1:${appPort}`,
    server,
    appOutput: () => output,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      await server.close();
    },
  };
};
