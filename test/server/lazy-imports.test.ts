/**
 * What a start loads: the compiled CLI imports a connector's module, a storage driver and the heavy libraries
 * (gRPC, prom-client, the Kubernetes client, node-saml, openid-client, pg) only when the config uses them. A load
 * hook records every module the process loads, in the order it loads them; the assertions read that list once the
 * process has answered, so nothing depends on timing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { WITHOUT_SCHEMA_COMPILERS } from '../../src/http/no-schemas.js';
import { ensureBuilt } from '../support/build.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-lazy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOOKS = join(dir, 'record-hooks.mjs');
const REGISTER = join(dir, 'record.mjs');
// ESM modules pass the load hook; CommonJS ones required from them pass Module._load, patched in the main thread.
writeFileSync(
  HOOKS,
  "import { appendFileSync } from 'node:fs';\n" +
    'export async function load(url, context, next) {\n' +
    '  appendFileSync(process.env.IDPORT_LOADED_MODULES, `${url}\\n`);\n' +
    '  return next(url, context);\n}\n',
);
writeFileSync(
  REGISTER,
  "import { appendFileSync } from 'node:fs';\nimport Module, { register } from 'node:module';\n" +
    `register(${JSON.stringify(pathToFileURL(HOOKS).href)});\n` +
    'const load = Module._load;\n' +
    'Module._load = function (request, parent, isMain) {\n' +
    '  const exported = load.call(this, request, parent, isMain);\n' +
    '  try { appendFileSync(process.env.IDPORT_LOADED_MODULES, `${Module._resolveFilename(request, parent)}\\n`); }\n' +
    '  catch { /* a built-in module has no file */ }\n' +
    '  return exported;\n};\n',
);

/** The modules the CLI loaded while running `args`, as file paths or URLs, one per line. */
const loadedBy = async (name: string, args: readonly string[], untilListening: boolean): Promise<string[]> => {
  const record = join(dir, `${name}.loaded`);
  writeFileSync(record, '');
  const child = spawn(process.execPath, ['--import', pathToFileURL(REGISTER).href, 'bin/idport.js', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IDPORT_LOADED_MODULES: record },
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal)),
  );
  try {
    if (untilListening) {
      let listening = false;
      for await (const line of createInterface({ input: child.stderr })) {
        if ((JSON.parse(line) as { msg?: string }).msg === 'idport listening') {
          listening = true;
          break;
        }
      }
      assert.ok(listening, 'idport did not start');
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
  return readFileSync(record, 'utf8').split('\n');
};

/**
 * The sources a start ran, from the files it loaded: a file under node_modules stands for itself, and a chunk of
 * the bundle in dist/ for every source module esbuild put in it (dist/modules.json, written by `npm run build`).
 */
const sourcesOf = (loaded: readonly string[]): string[] => {
  const chunks = JSON.parse(readFileSync('dist/modules.json', 'utf8')) as Record<string, string[]>;
  return loaded.flatMap((file) => {
    const chunk = /\/dist\/([^/]+\.js)$/.exec(file)?.[1];
    return chunk === undefined ? [file] : (chunks[chunk] ?? []).map((source) => `/${source}`);
  });
};
/** Whether a module of the package `name` (under node_modules) was loaded. */
const hasPackage = (loaded: readonly string[], name: string): boolean =>
  sourcesOf(loaded).some((file) => file.includes(`node_modules/${name}/`));
/** Whether idport's own module `path` (a TypeScript source, bundled into dist/) was loaded. */
const hasModule = (loaded: readonly string[], path: string): boolean =>
  sourcesOf(loaded).some((file) => file.endsWith(`/${path.replace(/\.js$/, '.ts')}`));

const HEAVY = [
  '@kubernetes/client-node',
  'pg',
  '@node-saml/node-saml',
  'openid-client',
  '@grpc/grpc-js',
  'prom-client',
];
const OTHER_CONNECTORS = ['ldap/ldap.js', 'saml/saml.js', 'oidc/oidc.js', 'github/github.js', 'google/google.js'];

const header = `issuer: http://127.0.0.1:5556/dex\nweb: {http: 127.0.0.1:0}\nlogger: {format: json}\n`;

before(() => ensureBuilt());

describe('what a start loads', () => {
  it('a config with SQLite and one mockCallback connector loads their modules and none of the others', async () => {
    const config = join(dir, 'sqlite.yaml');
    writeFileSync(
      config,
      `${header}storage: {type: sqlite3, config: {file: ${join(dir, 'idport.db')}}}\n` +
        'connectors:\n- {type: mockCallback, id: mock, name: Mock}\n',
    );
    const loaded = await loadedBy('sqlite', ['serve', config], true);
    // What the config uses is recorded: the hooks see both ESM and CommonJS loads.
    assert.ok(hasPackage(loaded, 'better-sqlite3'), 'better-sqlite3 was not loaded');
    assert.ok(hasModule(loaded, 'connectors/mock/mock.js'), 'the mock connector was not loaded');
    for (const name of HEAVY) assert.equal(hasPackage(loaded, name), false, `${name} was loaded`);
    for (const path of OTHER_CONNECTORS) assert.equal(hasModule(loaded, `connectors/${path}`), false, path);
    assert.equal(hasModule(loaded, 'storage/postgres/postgres.js'), false);
    assert.equal(hasModule(loaded, 'storage/kubernetes/kubernetes.js'), false);
  });

  it('telemetry and gRPC load prom-client and gRPC only when configured', async () => {
    const config = join(dir, 'telemetry.yaml');
    writeFileSync(
      config,
      `${header}storage: {type: memory}\ntelemetry: {http: 127.0.0.1:0}\ngrpc: {addr: 127.0.0.1:0}\n`,
    );
    const loaded = await loadedBy('telemetry', ['serve', config], true);
    assert.ok(hasPackage(loaded, 'prom-client'), 'prom-client was not loaded');
    assert.ok(hasPackage(loaded, '@grpc/grpc-js'), '@grpc/grpc-js was not loaded');
    assert.equal(hasPackage(loaded, 'better-sqlite3'), false);
    assert.equal(hasPackage(loaded, 'pg'), false);
  });

  it('check-config validates every connector type without loading the connectors or their libraries', async () => {
    const config = join(dir, 'connectors.yaml');
    writeFileSync(
      config,
      `${header}storage: {type: postgres, config: {host: 127.0.0.1, database: dex, user: dex}}\nconnectors:\n` +
        '- {type: github, id: github, name: GitHub, config: {clientID: a, clientSecret: b, redirectURI: "http://127.0.0.1:5556/dex/callback"}}\n' +
        '- {type: oidc, id: oidc, name: OIDC, config: {issuer: "https://accounts.example.com", clientID: a, clientSecret: b, redirectURI: "http://127.0.0.1:5556/dex/callback"}}\n' +
        '- {type: ldap, id: ldap, name: LDAP, config: {host: "ldap.example.com:636", userSearch: {baseDN: "ou=people,dc=example,dc=com", username: uid, idAttr: uid, emailAttr: mail, nameAttr: cn}}}\n',
    );
    const loaded = await loadedBy('check', ['check-config', config], false);
    for (const name of HEAVY) assert.equal(hasPackage(loaded, name), false, `${name} was loaded`);
    for (const path of [...OTHER_CONNECTORS, 'mock/mock.js'])
      assert.equal(hasModule(loaded, `connectors/${path}`), false, path);
    assert.ok(hasModule(loaded, 'connectors/github/config.js'), 'the github schema was not loaded');
  });

  it('check-config still refuses an invalid connector config, naming its key', () => {
    const config = join(dir, 'invalid.yaml');
    writeFileSync(
      config,
      `${header}storage: {type: memory}\nconnectors:\n- {type: saml, id: corp, name: Corp, config: {ssoURL: 1}}\n`,
    );
    const result = spawnSync(process.execPath, ['bin/idport.js', 'check-config', config], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /connectors\[0\]\.config\.ssoURL/);
  });

  it('an app without schema compilers refuses a route that declares a schema, and serves one that does not', async () => {
    const app = Fastify({ schemaController: WITHOUT_SCHEMA_COMPILERS });
    app.get('/plain', async () => 'ok');
    app.post('/typed', { schema: { body: { type: 'object' } } }, async () => 'typed');
    await assert.rejects(async () => app.ready(), /idport routes declare no JSON schemas/);
    const plain = Fastify({ schemaController: WITHOUT_SCHEMA_COMPILERS });
    plain.get('/plain', async () => 'ok');
    assert.equal((await plain.inject('/plain')).body, 'ok');
    await plain.close();
  });
});
