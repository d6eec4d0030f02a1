// Runs every test/**/*.test.ts with node's test runner. Node 20's `--test` does not expand globs itself,
// so the files are listed here; extra arguments (e.g. a folder or file filter) narrow the set.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const flags = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
const files = readdirSync('test', { recursive: true })
  .map((entry) => join('test', String(entry)))
  .filter((file) => file.endsWith('.test.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
