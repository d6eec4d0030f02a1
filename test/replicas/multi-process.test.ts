/**
 * Issue 6: two `idport serve` processes behind one issuer (an HTTP load balancer) on one PostgreSQL
 * schema. A user logs in on one; the client refreshes on the other and gets an ID token that verifies
 * against the first's /keys. With the balancer alternating every request, a login still completes:
 * no replica keeps state of its own.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/oauth/primitives/subject.js';
import { freePort } from '../support/config-server.js';
import { Browser, formsOf } from '../support/browser.js';
import { demoUser } from '../support/idport.js';
import { createSchema, postgresSkip, urlWithSchema } from '../support/postgres.js';
import {
  CLIENT_ID,
  clientFor,
  login,
  readiness,
  REDIRECT,
  replicaYaml,
  startBalancer,
  type Balancer,
} from './support.js';
import { ensureBuilt } from '../support/build.js';

interface Process {
  readonly origin: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  logs(): string;
}

/** Starts `idport serve <yaml>` as an operator would. */
function serve(dir: string, name: string, yaml: string, port: number): Process {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, ['bin/idport.js', 'serve', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { origin: `http://127.0.0.1:${port}`, child, exited, logs: () => output };
}

async function untilReady(p: Process, limitMs: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (p.child.exitCode !== null) assert.fail(`idport exited with ${p.child.exitCode}:\n${p.logs()}`);
    const ready = await readiness(p.origin).catch(() => undefined);
    if (ready?.status === 200) return;
    await sleep(100);
  }
  assert.fail(`idport at ${p.origin} not ready after ${limitMs} ms:\n${p.logs()}`);
}

before(() => ensureBuilt());

describe('two idport processes on one database', { skip: postgresSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-replicas-'));
  const processes: Process[] = [];
  let balancer: Balancer;
  let issuer = '';

  before(async () => {
    const schema = await createSchema('procs');
    const [portA, portB] = [await freePort(), await freePort()];
    balancer = await startBalancer(await freePort(), [portA, portB]);
    issuer = `${balancer.origin}/dex`;
    const yaml = (port: number) => replicaYaml({ issuer, port, url: urlWithSchema(schema), logLevel: 'info' });
    // Started together: both migrate and create the first signing key at the same moment.
    processes.push(serve(dir, 'a', yaml(portA), portA), serve(dir, 'b', yaml(portB), portB));
    // The compiled bin, as production runs it; the bound is generous because two processes starting together on
    // a loaded two-core machine once took over 30 s, and a ready process answers at once anyway.
    await Promise.all(processes.map((p) => untilReady(p, 180_000)));
  });
  after(async () => {
    await balancer?.close();
    for (const p of processes) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in on one process and refreshes on the other, with one key set between them', async () => {
    const [a, b] = processes as [Process, Process];
    balancer.pin(0);
    const tokens = await login(await clientFor(issuer));
    balancer.pin(undefined);
    assert.equal(balancer.hits[1], 0, 'the whole login went to the first process');
    const refreshed = await oidc.refreshTokenGrant(await clientFor(issuer, b.origin), tokens.refresh_token ?? '');
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);

    // B signed with the key A publishes: the replicas share one key set.
    const { payload } = await jwtVerify(refreshed.id_token ?? '', createRemoteJWKSet(new URL(`${a.origin}/dex/keys`)), {
      issuer,
      audience: CLIENT_ID,
    });
    assert.equal(payload.sub, encodeSubject(demoUser.userId, 'local'));
    const [keysA, keysB] = await Promise.all([a, b].map(async (p) => (await fetch(`${p.origin}/dex/keys`)).json()));
    assert.deepEqual(keysB, keysA);
    assert.equal((keysA as { keys: unknown[] }).keys.length, 1, 'two processes starting at once created one key');

    // And A honours what B rotated: the old token is now the previous one, the new one works on A.
    const again = await oidc.refreshTokenGrant(await clientFor(issuer, a.origin), refreshed.refresh_token);
    assert.ok(again.access_token);
  });

  it('completes a login whose every request goes to the other process than the one before', async () => {
    const before = [...balancer.hits];
    const client = await clientFor(issuer);
    const tokens = await login(client);
    const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token ?? '');
    const info = await oidc.fetchUserInfo(client, refreshed.access_token, encodeSubject(demoUser.userId, 'local'));
    assert.equal(info.email, demoUser.email);
    const [toA, toB] = balancer.hits.map((n, i) => n - (before[i] ?? 0));
    assert.ok(
      toA !== undefined && toB !== undefined && toA >= 3 && Math.abs(toA - toB) <= 1,
      `requests per process: ${toA}, ${toB}`,
    );
  });

  it('shares one brute-force budget: failures on both processes lock the account on each', async () => {
    // An account that does not exist (failures count all the same), so the demo user stays usable for the tests below.
    const ACCOUNT = 'guessed@example.com';
    const browser = new Browser();
    const query = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      state: 'bf',
    });
    balancer.pin(0);
    const [form] = formsOf((await browser.follow(`${issuer}/auth?${query.toString()}`, REDIRECT)).page);
    assert.ok(form);
    const attempt = async (replica: number, password: string): Promise<number> => {
      balancer.pin(replica);
      const answer = await browser.request(form.action, { form: { ...form.fields, login: ACCOUNT, password } });
      return answer.status;
    };
    try {
      // The default budget is 5: three failures on the first process and two on the second use it up.
      for (const replica of [0, 0, 0, 1, 1]) assert.equal(await attempt(replica, 'wrong'), 401);
      assert.equal(await attempt(0, 'guess'), 429, 'locked on the first process');
      assert.equal(await attempt(1, 'guess'), 429, 'and on the second');
    } finally {
      balancer.pin(undefined);
    }
  });

  it('stops both processes cleanly on SIGTERM', async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    const codes = await Promise.all(processes.map((p) => p.exited));
    assert.deepEqual(codes, [0, 0], processes.map((p) => p.logs()).join('\n'));
  });
});
