/**
 * Issue 6: the database going away. A replica reaches PostgreSQL through a TCP proxy the test controls.
 * While the database is gone (port closed) or silent (a partition), /token answers 503
 * temporarily_unavailable and /healthz/ready 503 within a bounded time; when it returns, the same
 * process recovers without a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/config-server.js';
import { createSchema, postgresSkip, requirePostgresUrl, urlWithSchema } from '../support/postgres.js';
import {
  CLIENT_ID,
  clientFor,
  login,
  REDIRECT,
  readiness,
  refreshAt,
  replicaYaml,
  startDbProxy,
  startReplica,
  type DbProxy,
  type Replica,
  type TokenAnswer,
} from './support.js';

/** Polls readiness until it is green; returns how long that took. */
async function untilReady(origin: string, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if ((await readiness(origin)).status === 200) return performance.now() - started;
    await sleep(25);
  }
  assert.fail(`not ready again within ${limitMs} ms`);
}

const assertUnavailable = (answer: TokenAnswer, boundMs: number): void => {
  assert.equal(answer.status, 503, JSON.stringify(answer.body));
  assert.equal(answer.body.error, 'temporarily_unavailable');
  assert.ok(answer.ms < boundMs, `answered after ${Math.round(answer.ms)} ms, bound ${boundMs} ms`);
};

describe('the database going away', { skip: postgresSkip }, () => {
  let proxy: DbProxy;
  let replica: Replica;
  let token: string;
  const measured: Record<string, number> = {};

  before(async () => {
    const schema = await createSchema('outage');
    const direct = new URL(requirePostgresUrl());
    proxy = await startDbProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(urlWithSchema(schema));
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}/dex`;
    replica = await startReplica(replicaYaml({ issuer, port, url: viaProxy.href }), port);
    token = (await login(await clientFor(issuer))).refresh_token ?? '';
  });
  after(async () => {
    process.stderr.write(`# outage timings (ms): ${JSON.stringify(measured)}\n`);
    await replica?.close();
    await proxy?.close();
  });

  const refreshOk = async (): Promise<void> => {
    const answer = await refreshAt(replica.origin, token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    token = String(answer.body.refresh_token);
  };

  it('answers 503 at once while the database host refuses connections, and recovers when it is back', async () => {
    assert.equal((await readiness(replica.origin)).status, 200);
    await proxy.cut();

    const refused = await refreshAt(replica.origin, token);
    assertUnavailable(refused, 3_000);
    const ready = await readiness(replica.origin);
    assert.equal(ready.status, 503);
    assert.ok(ready.ms < 3_000);
    Object.assign(measured, { refusedToken: Math.round(refused.ms), refusedReady: Math.round(ready.ms) });
    // A browser starting a login gets the error page with 503, not a 500 or a redirect.
    const page = await fetch(
      `${replica.origin}/dex/auth?${new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid' })}`,
      { redirect: 'manual' },
    );
    assert.equal(page.status, 503);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);

    await proxy.restore();
    measured.refusedRecovery = Math.round(await untilReady(replica.origin, 5_000));
    // The refused attempt changed nothing: the same refresh token still works.
    await refreshOk();
  });

  it('answers 503 within the timeouts while the database is silent, even with requests queued for the pool', async () => {
    // Five concurrent pings leave five idle connections in the pool, which the black hole then stalls.
    await Promise.all(Array.from({ length: 5 }, () => readiness(replica.origin)));
    proxy.blackhole();
    // More requests than pool connections (5): some wait on stalled connections, the rest for a free slot.
    const [ready, ...answers] = await Promise.all([
      readiness(replica.origin),
      ...Array.from({ length: 8 }, () => refreshAt(replica.origin, token)),
    ]);
    assert.ok(ready);
    // statement timeout 5 s + 1 s client backstop is the longest wait; connecting and queueing give up after 2 s.
    for (const answer of answers) assertUnavailable(answer, 8_000);
    // At least one request was sent on a connection that had gone silent: only the client-side backstop ended it.
    assert.ok(Math.max(...answers.map((a) => a.ms)) > 4_500, 'a request waited on a stalled connection');
    assert.equal(ready.status, 503);
    assert.ok(ready.ms < 2_500, `readiness took ${Math.round(ready.ms)} ms`);
    Object.assign(measured, {
      silentTokenMin: Math.round(Math.min(...answers.map((a) => a.ms))),
      silentTokenMax: Math.round(Math.max(...answers.map((a) => a.ms))),
      silentReady: Math.round(ready.ms),
    });

    await proxy.restore();
    measured.silentRecovery = Math.round(await untilReady(replica.origin, 5_000));
    await refreshOk();
  });
});
