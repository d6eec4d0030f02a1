/** `engines` is honest: every installed package, dev ones included, runs on the lowest Node the project allows. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'idport-engines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const check = (projectDir?: string) =>
  spawnSync(process.execPath, ['scripts/check-engines.mjs', ...(projectDir === undefined ? [] : [projectDir])], {
    encoding: 'utf8',
  });

describe('engines', () => {
  it('every package in the lockfile supports the floor of engines.node', () => {
    const result = check();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /every package supports Node 20\.19\.0/);
  });

  it('names a package that needs a newer Node than the floor', () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ engines: { node: '>=20.19.0' } }));
    const packages = {
      '': { name: 'x' },
      'node_modules/cookie': { version: '2.0.2', engines: { node: '>=22' } },
      'node_modules/ok': { version: '1.0.0', engines: { node: '>=18' }, dev: true },
    };
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ packages }));
    const result = check(dir);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cookie@2\.0\.2 needs Node >=22/);
    assert.doesNotMatch(result.stderr, /ok@/);
  });

  it('the README names the same floor as engines.node', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, '>=20.19.0');
    assert.match(readFileSync('README.md', 'utf8'), /Node\.js 20\.19 or newer/);
  });
});
