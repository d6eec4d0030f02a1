// Checks that every package in package-lock.json (dev ones included) supports the lowest Node.js version that
// package.json's `engines.node` allows, so `npm ci` on that version neither warns nor installs something that
// fails there. Usage: node scripts/check-engines.mjs [project dir]; exits 1 naming each package that does not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';

const dir = process.argv[2] ?? '.';
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
const floor = semver.minVersion(pkg.engines?.node ?? '');
if (floor === null) {
  console.error('package.json has no engines.node range');
  process.exit(1);
}
const problems = [];
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  const range = entry.engines?.node;
  if (path === '' || typeof range !== 'string') continue;
  const name = path.replace(/^.*node_modules\//, '');
  if (semver.validRange(range) === null) problems.push(`${name}@${entry.version}: unreadable engines.node "${range}"`);
  else if (!semver.satisfies(floor, range))
    problems.push(`${name}@${entry.version}${entry.dev === true ? ' (dev)' : ''} needs Node ${range}`);
}
if (problems.length > 0) {
  console.error(`Node ${floor.version} (the floor of engines.node "${pkg.engines.node}") is not supported by:`);
  for (const line of problems) console.error(`  ${line}`);
  process.exit(1);
}
console.log(`every package supports Node ${floor.version}`);
