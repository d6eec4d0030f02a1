/** The client YAML of every recipe in docs/ passes `idport check-config`, without warnings, and lists as expected. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'idport-recipes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = `issuer: https://idport.example.com/dex
storage:
  type: memory
web:
  http: 0.0.0.0:5556
enablePasswordDB: true
`;

/** The recipe's fenced YAML blocks that define idport clients. */
const clientBlocks = (text: string): string[] =>
  [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').filter((b) => b.startsWith('staticClients:'));

const recipes = readdirSync('docs').filter((name) => name.endsWith('.md') && name !== 'README.md');

describe('docs/ recipes', () => {
  it('cover kubectl, Grafana, Argo CD and oauth2-proxy, each linked from docs/README.md', () => {
    assert.deepEqual(recipes.sort(), ['argocd.md', 'grafana.md', 'kubectl.md', 'oauth2-proxy.md']);
    const index = readFileSync('docs/README.md', 'utf8');
    for (const name of recipes) assert.ok(index.includes(`](${name})`), name);
  });

  for (const name of recipes) {
    it(`${name}: the client YAML passes check-config with its redirect URIs listed`, () => {
      const text = readFileSync(join('docs', name), 'utf8');
      const [block, extra] = clientBlocks(text);
      assert.ok(block, `a staticClients block in ${name}`);
      assert.equal(extra, undefined, 'one client block per recipe');
      const path = join(dir, `${name}.yaml`);
      writeFileSync(path, `${BASE}${block}`);
      const secrets = [...block.matchAll(/secretEnv: (\w+)/g)].map((m) => m[1] ?? '');
      const env = Object.fromEntries(secrets.map((variable) => [variable, 'a-test-secret']));
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check-config', '--strict', path], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...env },
        timeout: 60_000,
      });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stderr, '', 'no warnings');
      for (const uri of block.matchAll(/redirectURIs: \['([^']+)'\]/g))
        assert.ok(result.stdout.includes(`redirect URIs: ${uri[1] ?? ''}`), result.stdout);
    });
  }

  it('each recipe says which redirect URI its application uses', () => {
    const expected: Record<string, string> = {
      'grafana.md': '/login/generic_oauth',
      'argocd.md': '/auth/callback',
      'oauth2-proxy.md': '/oauth2/callback',
      'kubectl.md': 'http://localhost:8000',
    };
    for (const [name, path] of Object.entries(expected))
      assert.ok(readFileSync(join('docs', name), 'utf8').includes(path), `${name} names ${path}`);
  });
});
