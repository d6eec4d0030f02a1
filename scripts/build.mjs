// `npm run build`: type-checks the shipped sources with tsc, then bundles the CLI with esbuild into dist/.
//
// Why a bundle rather than tsc's file-per-module output: a start loaded some 660 modules, and resolving and
// reading them was a third of the time from spawn to the first answer (issue 15). Bundling the pure-JavaScript
// dependencies (fastify, zod, yaml, jose, prom-client, …) with our own code leaves a few dozen files. Code that only
// some configs need stays in chunks imported on demand (`--splitting`), so a connector, a storage driver, gRPC or
// the metrics are still loaded only when configured.
//
// Left outside the bundle, loaded from node_modules: native addons; the large libraries only some configs import
// (bundling them gains nothing at start); pino, whose transports find their worker files through __dirname; and
// code a start never runs.
//
// Every chunk sits directly in dist/, so `import.meta.url` resolves the same from all of them: web/static,
// web/themes and the gRPC proto are copied beside them (dist/static, dist/themes, dist/api.proto), where
// web/assets.ts and src/grpc/server.ts look for them, and package.json is one directory up, as it is from src/.
// dist/modules.json records which sources each chunk holds, for the test of what a start loads.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { relative } from 'node:path';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

const EXTERNAL = [
  'better-sqlite3',
  'bcrypt',
  'pino',
  '@kubernetes/client-node',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  '@node-saml/node-saml',
  'ldapts',
  'openid-client',
  'pg',
  // fastify's JSON-schema compilers (ajv and fast-json-stringify, 1.4 MB of code): idport routes declare no schemas
  // and fastify is built without them (src/http/no-schemas.ts), so they are never loaded, and in a bundle their
  // text would still be read and parsed at every start.
  '@fastify/ajv-compiler',
  '@fastify/fast-json-stringify-compiler',
  'fast-json-stringify',
  'ajv',
  'ajv-formats',
];

const typecheck = () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

const bundle = async () => {
  rmSync('dist', { recursive: true, force: true });
  const result = await build({
    entryPoints: { cli: 'src/main.ts' },
    outdir: 'dist',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for node's built-ins, which an ES module does not have.
    banner: {
      js: "import { createRequire as idportCreateRequire } from 'node:module';\nconst require = idportCreateRequire(import.meta.url);",
    },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const modules = {};
  for (const [output, { inputs }] of Object.entries(result.metafile.outputs)) {
    if (!output.endsWith('.js')) continue;
    modules[relative('dist', output)] = Object.keys(inputs).sort();
  }
  writeFileSync('dist/modules.json', `${JSON.stringify(modules, null, 1)}\n`);
  for (const dir of ['static', 'themes']) cpSync(`web/${dir}`, `dist/${dir}`, { recursive: true });
  cpSync('src/grpc/api.proto', 'dist/api.proto');
  // Tests that run the bins compare this stamp with the sources to tell a stale dist/ from a fresh one.
  writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
};

typecheck();
await bundle();
