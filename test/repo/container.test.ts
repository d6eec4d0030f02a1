/**
 * The deployment kit outside an image: config.container.yaml is valid and starts (the image's command), the
 * HEALTHCHECK's `idport healthcheck` finds the listener from the config, and the Dockerfile and compose.yaml wire
 * them as the README says. (The image itself is built with buildah where one is available; see notes.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { freePort } from '../support/example-app.js';
import { ensureBuilt } from '../support/build.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-container-'));
before(() => ensureBuilt());
after(() => rmSync(dir, { recursive: true, force: true }));

const CLI = ['bin/idport.js'];
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, ...env },
  });

/** config.container.yaml with its volume and ports moved into this test's reach. */
const containerConfig = (web: number, telemetry: number | undefined): string => {
  let text = readFileSync('config.container.yaml', 'utf8')
    .replace('/var/lib/idport/', `${dir}/`)
    .replace('0.0.0.0:5556', `127.0.0.1:${web}`);
  text =
    telemetry === undefined
      ? text.replace(/^telemetry:\n {2}http: \S+\n/m, '')
      : text.replace('0.0.0.0:5558', `127.0.0.1:${telemetry}`);
  const path = join(dir, `config-${web}.yaml`);
  writeFileSync(path, text);
  return path;
};

describe('config.container.yaml', () => {
  it('is valid: every interface, SQLite on the volume, JSON logs, the issuer from IDPORT_ISSUER', () => {
    const plain = cli(['check-config', '--strict', 'config.container.yaml']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stderr, '');
    assert.match(plain.stdout, /valid \(issuer http:\/\/127\.0\.0\.1:5556\/dex, storage sqlite3,/);
    assert.match(plain.stdout, /listeners: web\.http 0\.0\.0\.0:5556, telemetry\.http 0\.0\.0\.0:5558/);
    const config = readFileSync('config.container.yaml', 'utf8');
    assert.match(config, /file: \/var\/lib\/idport\/idport\.db/);
    assert.match(config, /format: json/);
    const public_ = cli(['check-config', 'config.container.yaml'], { IDPORT_ISSUER: 'https://id.example.com/dex' });
    assert.match(public_.stdout, /issuer https:\/\/id\.example\.com\/dex/);
  });

  for (const telemetry of [true, false]) {
    it(`starts as the image starts it, and healthcheck probes the ${telemetry ? 'telemetry' : 'web'} listener`, async () => {
      const web = await freePort();
      const probePort = telemetry ? await freePort() : web;
      const path = containerConfig(web, telemetry ? probePort : undefined);
      const down = cli(['healthcheck', path]);
      assert.equal(down.status, 1, 'unhealthy while nothing listens');
      const server = spawn(process.execPath, [...CLI, 'serve', path], { stdio: ['ignore', 'ignore', 'pipe'] });
      let logs = '';
      server.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
      // Wait for the line itself (or the process ending) rather than a fixed number of polls: on a loaded
      // machine the start can outlast any fixed budget, and the old poll then killed a server still starting.
      const listening = new Promise<void>((resolve, reject) => {
        server.stderr.on('data', () => logs.includes('idport listening') && resolve());
        server.on('exit', (code) => reject(new Error(`idport exited (${code}) before listening:\n${logs}`)));
      });
      let started = false;
      try {
        await listening;
        started = true;
        assert.match(logs, /^{"level":"info",.*"msg":"idport listening"}$/m);
        const up = cli(['healthcheck', path]);
        assert.equal(up.status, 0, up.stdout + up.stderr);
        assert.equal(up.stdout, `http://127.0.0.1:${probePort}/healthz/live: healthy\n`);
      } finally {
        server.kill('SIGTERM');
        // Only a server that had started must drain and exit 0; otherwise the first failure is the one to report.
        if (started) assert.equal(await exited, 0, logs);
      }
    });
  }
});

describe('Dockerfile and compose.yaml', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');

  it('stays on node:*-bookworm-slim, ships config.container.yaml as the default config and runs it', () => {
    for (const from of dockerfile.matchAll(/^FROM (\S+)/gm))
      assert.match(from[1] ?? '', /^(node:\d+-bookworm-slim|deps|build)$/, from[0]);
    assert.match(dockerfile, /^COPY config\.container\.yaml \/etc\/idport\/config\.yaml$/m);
    assert.match(dockerfile, /^CMD \["serve", "\/etc\/idport\/config\.yaml"\]$/m);
    assert.match(dockerfile, /^COPY examples \.\/examples$/m);
  });

  it('has a HEALTHCHECK that reads the port from the config instead of assuming 5556', () => {
    const healthcheck = /^HEALTHCHECK[^\n]*\\\n\s+CMD (.*)$/m.exec(dockerfile)?.[1] ?? '';
    assert.equal(healthcheck, '["node", "bin/idport.js", "healthcheck", "/etc/idport/config.yaml"]');
    assert.doesNotMatch(healthcheck, /5556/);
  });

  it('compose.yaml builds idport from the repo root and runs the example app on 5555 beside it', () => {
    const compose = parse(readFileSync('compose.yaml', 'utf8')) as {
      services: Record<string, Record<string, unknown>>;
    };
    const { idport, 'example-app': app } = compose.services;
    assert.ok(idport && app);
    assert.equal(idport.build, '.');
    assert.deepEqual(idport.ports, ['127.0.0.1:5556:5556', '127.0.0.1:5555:5555']);
    assert.equal(app.network_mode, 'service:idport');
    assert.deepEqual(app.entrypoint, ['node', 'examples/example-app/app.mjs']);
    assert.equal((app.environment as Record<string, string>).ISSUER, 'http://127.0.0.1:5556/dex');
    // The issuer and redirect URIs the app uses are the ones config.container.yaml registers.
    assert.match(readFileSync('config.container.yaml', 'utf8'), /- http:\/\/127\.0\.0\.1:5555\/callback/);
  });
});
