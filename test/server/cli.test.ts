/** The idport command as an operator runs it: real processes, real config files, real signals. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import { httpsGet, selfSigned } from './support.js';

const CLI = ['--import', 'tsx', 'src/cli.ts'];
const dir = mkdtempSync(join(tmpdir(), 'idport-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const freePort = async (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

const configFor = (port: number, extra = ''): string => `issuer: http://127.0.0.1:${port}/dex
storage:
  type: sqlite3
  config:
    file: ${join(dir, `db-${port}`, 'idport.db')}
web:
  http: 127.0.0.1:${port}
logger:
  format: json
staticClients:
- id: example-app
  name: Example App
  secret: ZXhhbXBsZS1hcHAtc2VjcmV0
  redirectURIs: ['http://127.0.0.1:5555/callback']
enablePasswordDB: true
${extra}`;

/**
 * Resolves once `serve` logs that every listener is up, however long a loaded machine takes to start it (polling
 * for a fixed time failed under load); rejects if the process exits first.
 */
const untilListening = (child: ChildProcessByStdio<null, Readable, Readable>) =>
  new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (!seen.includes('"msg":"idport listening"')) return;
      child.stderr.off('data', onData);
      resolve();
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`idport exited (${code}) before listening: ${seen}`)));
  });

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, [...CLI, ...args], { input, encoding: 'utf8', timeout: 60_000 });

describe('idport CLI', () => {
  it('check-config exits 0 for a valid config', () => {
    const result = run(['check-config', write('ok.yaml', configFor(5556))]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /valid \(issuer http:\/\/127\.0\.0\.1:5556\/dex, storage sqlite3, 1 static client\(s\), 0 connector\(s\)\)/,
    );
  });

  it('check-config exits 2 and names every problem without a stack trace', () => {
    const path = write(
      'bad.yaml',
      configFor(5556)
        .replace('issuer: http://127.0.0.1:5556/dex', 'issuer: not a url')
        .replace('enablePasswordDB: true', 'enablePasswordDB: true\nunknownKey: 1'),
    );
    // --strict: an unknown key is otherwise a warning, as Dex ignores it (test/server/dex-cli.test.ts).
    const result = run(['check-config', '--strict', path]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^idport: invalid configuration \(2 problems\):/);
    assert.match(result.stderr, /bad\.yaml:1:\d+ issuer: expected an http\(s\) URL/);
    assert.match(result.stderr, /unknownKey/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  it('check-config exits 2 for a missing file', () => {
    const result = run(['check-config', join(dir, 'nope.yaml')]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /nope\.yaml: cannot read the config file \(no such file\)/);
  });

  it('check-config exits 2 for telemetry.enableProfiling: true, naming it', () => {
    const result = run([
      'check-config',
      write('pprof.yaml', configFor(5556, 'telemetry:\n  http: 127.0.0.1:5558\n  enableProfiling: true\n')),
    ]);
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      `idport: invalid configuration (1 problem):\n  ${join(dir, 'pprof.yaml')}:18:3 telemetry.enableProfiling: not supported by idport yet\n`,
    );
  });

  it('check-config accepts frontend.dir and frontend.extra with a warning naming each', () => {
    const result = run([
      'check-config',
      write(
        'frontend.yaml',
        configFor(5556, 'frontend:\n  dir: /srv/dex/web\n  extra:\n    tos: https://example.com/tos\n'),
      ),
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      result.stderr,
      'idport: warning: frontend.dir is ignored: idport renders its own pages and themes, so Dex\'s Go templates and static files in "/srv/dex/web" are not used\n' +
        'idport: warning: frontend.extra is ignored: idport\'s pages do not read template values ("tos")\n',
    );
  });

  it('hash-password prints a bcrypt hash of the password read from stdin', async () => {
    const result = run(['hash-password'], 's3cret!\n');
    assert.equal(result.status, 0, result.stderr);
    const hash = result.stdout.trim();
    assert.match(hash, /^\$2[aby]\$10\$/);
    assert.equal(await bcrypt.compare('s3cret!', hash), true);
  });

  it('hash-password refuses an empty password', () => {
    const result = run(['hash-password'], '\n');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /an empty password cannot be hashed/);
  });

  it('version prints the package version', () => {
    const result = run(['version']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^idport \d+\.\d+\.\d+\n$/);
  });

  it('an unknown command prints usage and exits 2', () => {
    const result = run(['frobnicate']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^Usage: idport <command>/);
  });

  it('serve answers health checks, logs JSON with request ids, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...CLI, 'serve', write('serve.yaml', configFor(port))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      await untilListening(child);
      const live = await fetch(`${base}/dex/healthz/live`);
      assert.equal(live.status, 200);
      const ready = await fetch(`${base}/dex/healthz/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ok', checks: { storage: 'ok' } });
      assert.equal((await fetch(`${base}/healthz/live`)).status, 200, 'probes also answer at the root');
      // Probes are not logged at info; discovery is.
      const requestId = (await fetch(`${base}/dex/.well-known/openid-configuration`)).headers.get('x-request-id');
      assert.ok(requestId);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = logs
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.ok(
        lines.some((line) => line.reqId === requestId),
        'request lines carry the request id',
      );
      assert.ok(lines.some((line) => line.msg === 'stopped'));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('serve listens on web.http, web.https and telemetry.http, warns about frontend.dir, and stops all three on SIGTERM', async () => {
    const [http, https, telemetry] = [await freePort(), await freePort(), await freePort()];
    const { cert, key } = selfSigned(dir);
    const yaml = configFor(
      http,
      `telemetry:\n  http: 127.0.0.1:${telemetry}\nfrontend:\n  dir: /srv/dex/web\n`,
    ).replace(
      `  http: 127.0.0.1:${http}\n`,
      `  http: 127.0.0.1:${http}\n  https: 127.0.0.1:${https}\n  tlsCert: ${cert}\n  tlsKey: ${key}\n`,
    );
    const child = spawn(process.execPath, [...CLI, 'serve', write('both.yaml', yaml)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await untilListening(child);
      const metrics = await fetch(`http://127.0.0.1:${telemetry}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^process_cpu_user_seconds_total /m);
      assert.equal((await fetch(`http://127.0.0.1:${http}/dex/healthz/ready`)).status, 200);
      const secure = await httpsGet(`https://127.0.0.1:${https}/dex/healthz/ready`, readFileSync(cert));
      assert.deepEqual({ status: secure.status, subject: secure.subject }, { status: 200, subject: 'idport test' });
      assert.equal((await fetch(`http://127.0.0.1:${http}/metrics`)).status, 404, 'no metrics on the web listener');
      const lines = () =>
        logs
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      const listening = lines().find((line) => line.msg === 'idport listening');
      assert.deepEqual(
        { https: listening?.https, http: listening?.http, telemetry: listening?.telemetry },
        { https: `127.0.0.1:${https}`, http: `127.0.0.1:${http}`, telemetry: `127.0.0.1:${telemetry}` },
      );
      const warning = lines().find((line) => line.key === 'frontend.dir');
      assert.equal(warning?.level, 'warn', 'JSON logs name their level');
      assert.match(String(warning?.msg), /^frontend\.dir is ignored: idport renders its own pages/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      for (const url of [`http://127.0.0.1:${http}/dex/healthz/live`, `http://127.0.0.1:${telemetry}/healthz/live`])
        await assert.rejects(fetch(url), { message: 'fetch failed' }, url);
      await assert.rejects(httpsGet(`https://127.0.0.1:${https}/dex/healthz/live`, readFileSync(cert)), {
        code: 'ECONNREFUSED',
      });
      assert.ok(lines().some((line) => line.msg === 'stopped'));
    } finally {
      child.kill('SIGKILL');
    }
  });
});
