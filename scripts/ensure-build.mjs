// Runs `npm run build` only when dist/ is missing or older than a source file: `npm start` (prestart) and the tests
// that run the compiled bin call it, so a fresh clone starts and a stale dist/ is never what a test exercises.
// A lock directory keeps two test files (the runner runs two at once) from building over each other.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const STAMP = 'dist/.build-stamp';
const LOCK = '.build.lock';
const LOCK_STALE_MS = 10 * 60_000;
const INPUTS = ['src', 'connectors', 'storage', 'web', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

const newestInput = () => {
  let newest = 0;
  for (const input of INPUTS) {
    const stat = statSync(input);
    if (!stat.isDirectory()) newest = Math.max(newest, stat.mtimeMs);
    else
      for (const entry of readdirSync(input, { recursive: true }))
        newest = Math.max(newest, mtime(join(input, String(entry))) ?? 0);
  }
  return newest;
};

const stale = () => (mtime(STAMP) ?? -1) < newestInput();

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const acquire = () => {
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (Date.now() - (mtime(LOCK) ?? Date.now()) > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      else sleep(250);
    }
  }
};

const build = () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  for (const args of [[tsc, '-p', 'tsconfig.build.json'], ['scripts/copy-assets.mjs']]) {
    const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
};

if (stale()) {
  acquire();
  try {
    if (stale()) build();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
