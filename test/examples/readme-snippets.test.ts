/**
 * The README's openid-client and curl snippets run as written against idport started from config.example.yaml (only
 * the ports 5556 and 5555 are moved to free ones); a browser does what the reader does in between.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Browser, loginThroughPages } from '../support/browser.js';
import type { Server } from '../../src/server.js';
import { freePort, startExampleIdport } from '../support/example-app.js';

/** The README's fenced block of `language` that contains `marker`. */
const readmeBlock = (language: string, marker: string): string => {
  const readme = readFileSync('README.md', 'utf8');
  const blocks = [...readme.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] ?? '');
  const block = blocks.find((text) => text.includes(marker));
  assert.ok(block, `a ${language} block with ${marker} in README.md`);
  return block;
};

/** Runs a process and collects its output; resolves when `until` matches it (or the process exits). */
const run = (child: ChildProcess) => {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (until: RegExp): Promise<RegExpExecArray> => {
    for (let i = 0; i < 600; i++) {
      const match = until.exec(output);
      if (match !== null) return match;
      await Promise.race([exited, new Promise((resolve) => child.stdout?.once('data', resolve))]);
      if (child.exitCode !== null) break;
    }
    const match = until.exec(output);
    assert.ok(match, `expected ${String(until)} in: ${output}`);
    return match;
  };
  return { output: () => output, exited, waitFor };
};

describe('README snippets', () => {
  const dir = join('.tmp', `readme-${process.pid}`);
  let appPort: number;
  let issuer: string;
  let server: Server;
  before(async () => {
    mkdirSync(dir, { recursive: true });
    appPort = await freePort();
    ({ issuer, server } = await startExampleIdport(appPort));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const withPorts = (text: string): string =>
    text.replaceAll('127.0.0.1:5556', new URL(issuer).host).replaceAll('5555', String(appPort));

  it('the openid-client snippet logs in and prints the claims and the access token', async () => {
    const file = join(dir, 'login.mjs');
    writeFileSync(file, withPorts(readmeBlock('js', 'oidc.discovery')));
    const snippet = run(spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const [, url] = await snippet.waitFor(/Open (\S+) and log in/);
    assert.ok(url);
    const callback = await loginThroughPages(new Browser(), url, `http://127.0.0.1:${appPort}/callback`);
    const answer = await fetch(callback);
    assert.equal(await answer.text(), 'Logged in: see the terminal.');
    assert.equal(await snippet.exited, 0, snippet.output());
    assert.match(snippet.output(), /email: 'admin@example\.com'/);
    assert.match(snippet.output(), /ACCESS_TOKEN=eyJ/);
  });

  it('the curl snippet redeems the pasted code and calls userinfo with the access token', async () => {
    const shell = spawn('bash', ['-c', withPorts(readmeBlock('sh', 'read -r -p'))], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const snippet = run(shell);
    const [, url] = await snippet.waitFor(/Open (\S+)/);
    assert.ok(url);
    const callback = await loginThroughPages(new Browser(), url, `http://127.0.0.1:${appPort}/callback`);
    shell.stdin.end(`${new URL(callback).searchParams.get('code') ?? ''}\n`);
    assert.equal(await snippet.exited, 0, snippet.output());
    const userinfo = JSON.parse(snippet.output().slice(snippet.output().indexOf('{'))) as Record<string, unknown>;
    assert.equal(userinfo.email, 'admin@example.com');
  });
});
