/** The command line as manifests written for Dex use it: `dex serve [flags] CONFIG` through the package's `dex` bin. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt } from '../support/build.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-dex-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// The bins run the compiled CLI in dist/.
before(() => ensureBuilt());

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const freePort = async (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

const runBin = (bin: 'dex' | 'idport', args: string[]) =>
  spawnSync(process.execPath, [`bin/${bin}.js`, ...args], { encoding: 'utf8', timeout: 60_000 });

const VALID = `issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web:
  http: 127.0.0.1:5556
  tlsCertificate: /tls.crt
`;

describe('dex command line', () => {
  it('check-config warns about an unknown key with its line and exits 0; --strict refuses it', () => {
    const path = write('unknown.yaml', VALID);
    const lenient = runBin('idport', ['check-config', path]);
    assert.equal(lenient.status, 0, lenient.stderr);
    assert.equal(
      lenient.stderr,
      `idport: warning: ${path}:5:3 web.tlsCertificate is not a key idport or Dex knows; ignored, as Dex ignores it\n`,
    );
    const strict = runBin('idport', ['check-config', '--strict', path]);
    assert.equal(strict.status, 2);
    assert.match(strict.stderr, new RegExp(`${path.replaceAll('.', '\\.')}:5:3 web: unknown key "tlsCertificate"`));
  });

  it("accepts a leading `dex` argument, as Dex's image passes it, through either bin", () => {
    const path = write('valid.yaml', VALID);
    for (const bin of ['dex', 'idport'] as const) {
      const result = runBin(bin, ['dex', 'check-config', path]);
      assert.equal(result.status, 0, `${bin}: ${result.stderr}`);
      assert.match(result.stdout, /valid \(issuer http:\/\/127\.0\.0\.1:5556\/dex/);
    }
  });

  it('refuses an unknown serve flag with usage, exit 2', () => {
    const result = runBin('dex', ['serve', '--web-addr', ':1', write('f.yaml', VALID)]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^idport: unknown flag: --web-addr\nUsage: idport <command>/);
  });

  it("`dex serve --web-http-addr … --telemetry-addr=… CONFIG` starts a config with no web block (Dex's Helm chart)", async () => {
    const [http, telemetry] = [await freePort(), await freePort()];
    const path = write(
      'chart.yaml',
      `issuer: http://127.0.0.1:${http}/dex\nstorage: {type: memory}\nlogger: {format: json}\n`,
    );
    const child = spawn(
      process.execPath,
      [
        'bin/dex.js',
        'dex',
        'serve',
        '--web-http-addr',
        `127.0.0.1:${http}`,
        path,
        `--telemetry-addr=127.0.0.1:${telemetry}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the listening line rather than a fixed number of polls: a loaded machine can outlast any budget.
    let logs = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()).includes('idport listening') && resolve());
      child.on('exit', (code) => reject(new Error(`exited (${code}) before listening:\n${logs}`)));
    });
    try {
      const live = await fetch(`http://127.0.0.1:${http}/dex/healthz/live`);
      assert.equal(live.status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${telemetry}/metrics`)).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('startup failures', () => {
  it('names the cause when the database cannot be opened, instead of hiding it', () => {
    const notADatabase = write(
      'not-a-db.db',
      'this is not a SQLite file, it is text that fills a page or so. '.repeat(64),
    );
    const path = write(
      'bad-db.yaml',
      `issuer: http://127.0.0.1:5556/dex\nstorage: {type: sqlite3, config: {file: ${notADatabase}}}\nweb: {http: 127.0.0.1:0}\n`,
    );
    const result = runBin('idport', ['serve', path]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cannot open database .*not-a-db\.db: file is not a database/);
  });
});
