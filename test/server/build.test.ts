/**
 * `npm run build`: the package's bins run the compiled JavaScript in dist/ with plain node. A resolve hook that
 * refuses any `.ts` module and tsx itself proves no TypeScript loader is involved at runtime.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt } from '../support/build.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-build-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Loaded with --import: registers a resolve hook that throws on any TypeScript source or tsx specifier. */
const HOOKS = join(dir, 'no-typescript-hooks.mjs');
const REGISTER = join(dir, 'no-typescript.mjs');
writeFileSync(
  HOOKS,
  'export async function resolve(specifier, context, next) {\n' +
    '  if (/\\.[cm]?ts$|^tsx(\\/|$)/.test(specifier)) throw new Error(`TypeScript at runtime: ${specifier}`);\n' +
    '  return next(specifier, context);\n}\n',
);
writeFileSync(
  REGISTER,
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(HOOKS).href)});\n`,
);
const PLAIN_NODE = ['--import', pathToFileURL(REGISTER).href];

before(() => ensureBuilt());

describe('the compiled bins', () => {
  it('the hook refuses tsx, so the checks below would catch a TypeScript loader', () => {
    const result = spawnSync(process.execPath, [...PLAIN_NODE, '-e', 'await import("tsx/esm/api")'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /TypeScript at runtime: tsx\/esm\/api/);
  });

  it('`version` runs through both bins with plain node', () => {
    for (const bin of ['bin/idport.js', 'bin/dex.js']) {
      const result = spawnSync(process.execPath, [...PLAIN_NODE, bin, 'version'], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^idport \d+\.\d+\.\d+\n$/);
    }
  });

  it('`serve` starts, answers discovery and serves its static files, and stops on SIGTERM', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nweb: {http: 127.0.0.1:0}\nlogger: {format: json}\n',
    );
    const child = spawn(process.execPath, [...PLAIN_NODE, 'bin/idport.js', 'serve', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let address: string | undefined;
      for await (const line of createInterface({ input: child.stderr })) {
        const entry = JSON.parse(line) as { msg?: string; http?: string };
        if (entry.msg === 'idport listening') {
          address = entry.http;
          break;
        }
      }
      assert.ok(address !== undefined, 'idport did not log its listening address');
      const discovery = await fetch(`http://${address}/dex/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal(((await discovery.json()) as { issuer: string }).issuer, 'http://127.0.0.1:5556/dex');
      const css = await fetch(`http://${address}/dex/static/main.css`);
      assert.equal(css.status, 200);
      assert.ok((await css.text()).length > 0);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
