// Runs `npm run build` only when dist/ is missing or older than a source file: `npm start` (prestart) and the tests
// that run the compiled bin call it, so a fresh clone starts and a stale dist/ is never what a test exercises.
// A lock directory keeps two test files (the runner runs two at once) from building over each other.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.build-stamp';
const LOCK = '.build.lock';
const LOCK_STALE_MS = 10 * 60_000;
const INPUTS = [
  'src',
  'connectors',
  'storage',
  'web',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'scripts/build.mjs',
];

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

/** Whether the process that took the lock still runs; a lock without a pid file yet is being taken right now. */
const holderAlive = () => {
  let pid;
  try {
    pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    return (mtime(LOCK) ?? 0) > Date.now() - 5_000;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

const acquire = () => {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      // A build interrupted by Ctrl-C leaves the lock behind: if its builder is gone, take it over at once
      // rather than making the next `npm start` wait out the staleness limit in silence.
      if (Date.now() - (mtime(LOCK) ?? Date.now()) > LOCK_STALE_MS || !holderAlive()) {
        rmSync(LOCK, { recursive: true, force: true });
      } else sleep(250);
    }
  }
};

const build = () => {
  const result = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

if (stale()) {
  acquire();
  try {
    if (stale()) build();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
