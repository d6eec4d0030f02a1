/**
 * The CLI helps the operator: check-config lists what a config defines, config mistakes say how to fix them, and
 * hash-password behaves on a terminal (visible prompts, hidden keys, asked twice) and in a pipe (only the hash).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import bcrypt from 'bcrypt';

const CLI = ['--import', 'tsx', 'src/cli.ts'];
const dir = mkdtempSync(join(tmpdir(), 'idport-cli-help-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HASH = '$2b$10$YSTrr.rdrfbKx4KchJqelOzDrWI4vS9/N8eMIt1vtSvsnAWN2alzq';

const config = (
  parts: { issuer?: string; storage?: string; clients?: string; extra?: string } = {},
): string => `issuer: ${parts.issuer ?? 'http://127.0.0.1:5556/dex'}
storage:
${parts.storage ?? '  type: memory'}
web:
  http: 0.0.0.0:5556
telemetry:
  http: 0.0.0.0:5558
staticClients:
${
  parts.clients ??
  `- id: grafana
  name: Grafana
  secret: s3cret
  redirectURIs: ['https://grafana.example.com/login/generic_oauth']
- id: kubectl
  name: kubectl
  public: true`
}
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: "${HASH}"
  userID: "1"
${parts.extra ?? ''}`;

const checkConfig = (yaml: string, args: string[] = [], env: Record<string, string> = {}) => {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yaml);
  const result = spawnSync(process.execPath, [...CLI, 'check-config', ...args, path], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, ...env },
  });
  return { ...result, path };
};

describe('check-config', () => {
  it('lists the listeners, each client with its redirect URIs and grant types, and the connectors', () => {
    const { status, stdout, stderr } = checkConfig(
      config({ extra: 'connectors:\n- type: mockCallback\n  id: mock\n  name: Example\n' }),
    );
    assert.equal(status, 0, stderr);
    const lines = stdout.split('\n').slice(1);
    assert.deepEqual(lines, [
      'listeners: web.http 0.0.0.0:5556, telemetry.http 0.0.0.0:5558 (/metrics, /healthz)',
      'clients (2):',
      '  grafana "Grafana" (confidential)',
      '    redirect URIs: https://grafana.example.com/login/generic_oauth',
      '    grant types: authorization_code, refresh_token, token_exchange',
      '  kubectl "kubectl" (public)',
      '    redirect URIs: (none)',
      '    grant types: authorization_code, refresh_token, device_code',
      'connectors: local (password database, 1 static user(s)), mock (mockCallback, "Example")',
      '',
    ]);
  });

  it('suggests the key a misspelt one most likely meant', () => {
    const clients = `- id: grafana
  name: Grafana
  secret: s3cret
  redirectURIs: ['https://grafana.example.com/cb']
  postLogoutRedirectURI: ['https://grafana.example.com/']`;
    const warned = checkConfig(config({ clients }));
    assert.equal(warned.status, 0, warned.stderr);
    assert.match(
      warned.stderr,
      /:13:3 staticClients\[0\]\.postLogoutRedirectURI is not a key idport or Dex knows \(did you mean "postLogoutRedirectURIs"\?\); ignored/,
    );
    const refused = checkConfig(config({ clients: clients.replace('redirectURIs', 'redirectURLs') }), ['--strict']);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /staticClients\[0\]: unknown key "redirectURLs" \(did you mean "redirectURIs"\?\)/);
    const unrelated = checkConfig(config({ extra: 'colour: blue\n' }));
    assert.doesNotMatch(unrelated.stderr, /did you mean/);
  });

  it('names an unset environment variable that a $VAR expansion turns into ""', () => {
    const storage = '  type: sqlite3\n  config:\n    file: $IDPORT_DATA_DIR/idport.db';
    const warned = checkConfig(config({ storage }));
    assert.equal(warned.status, 0, warned.stderr);
    assert.match(warned.stderr, /:5:5 storage\.config\.file uses \$IDPORT_DATA_DIR, which is not set/);
    const set = checkConfig(config({ storage }), [], { IDPORT_DATA_DIR: dir });
    assert.doesNotMatch(set.stderr, /IDPORT_DATA_DIR/);
    const secret = checkConfig(
      config({ clients: '- id: a\n  name: A\n  secretEnv: GRAFANA_SECRET\n  redirectURIs: [https://a/cb]' }),
    );
    assert.equal(secret.status, 2);
    assert.match(secret.stderr, /environment variable GRAFANA_SECRET is not set/);
  });

  it('points at hash-password when a plain password sits where a hash belongs', () => {
    const result = checkConfig(config().replace(`"${HASH}"`, 'password'));
    assert.equal(result.status, 2);
    assert.match(result.stderr, /staticPasswords\[0\]\.hash: expected a bcrypt hash .*run `idport hash-password`/);
  });

  it('warns about a trailing slash on the issuer', () => {
    const result = checkConfig(config({ issuer: 'http://127.0.0.1:5556/dex/' }));
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stderr,
      /warning: issuer ends with "\/": discovery and tokens say "http:\/\/127\.0\.0\.1:5556\/dex"/,
    );
    assert.doesNotMatch(checkConfig(config()).stderr, /ends with/);
  });
});

/** Runs hash-password on a pseudo-terminal (util-linux `script`), typing `answers` at its prompts. */
const onTerminal = (answers: readonly string[]): Promise<{ output: string; code: number | null }> =>
  new Promise((resolve) => {
    const command = [process.execPath, ...CLI, 'hash-password'].join(' ');
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = 0;
    const prompts = ['Password: ', 'Repeat the password: '];
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const prompt = prompts[answered];
      if (prompt !== undefined && output.includes(prompt) && answered < answers.length) {
        child.stdin.write(`${answers[answered] ?? ''}\r`);
        answered += 1;
      }
    });
    child.on('exit', (code) => {
      child.stdin.end();
      resolve({ output, code });
    });
  });

describe('hash-password', () => {
  it('on a terminal shows both prompts, echoes nothing typed, and prints the hash', async () => {
    const { output, code } = await onTerminal(['Tr0ub4dor&3', 'Tr0ub4dor&3']);
    assert.equal(code, 0, output);
    assert.ok(output.includes('Password: ') && output.includes('Repeat the password: '), output);
    assert.ok(!output.includes('Tr0ub4dor'), `the password was echoed: ${output}`);
    const hash = /\$2[aby]\$10\$[./A-Za-z0-9]{53}/.exec(output)?.[0];
    assert.ok(hash, output);
    assert.equal(bcrypt.compareSync('Tr0ub4dor&3', hash), true);
  });

  it('on a terminal refuses two different answers', async () => {
    const { output, code } = await onTerminal(['one-password', 'another-password']);
    assert.equal(code, 2);
    assert.match(output, /the passwords do not match/);
    assert.doesNotMatch(output, /\$2[aby]\$/);
  });

  it('from a pipe prints only the hash', () => {
    const result = spawnSync(process.execPath, [...CLI, 'hash-password'], {
      input: 'piped secret\n',
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^\$2b\$10\$[./A-Za-z0-9]{53}\n$/);
    assert.equal(bcrypt.compareSync('piped secret', result.stdout.trim()), true);
  });
});
