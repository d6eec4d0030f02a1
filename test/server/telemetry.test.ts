/** telemetry.http: /metrics and the health checks on a listener of their own, never on the public one. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configYaml, loginAndRedeem, start, type Started } from './support.js';

const WITH_TELEMETRY = configYaml('web:\n  http: 127.0.0.1:0\ntelemetry:\n  http: 127.0.0.1:0\n');

/** The sample lines of a Prometheus exposition (no # HELP / # TYPE). */
const samples = (text: string): string[] => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

describe('telemetry listener', () => {
  let idport: Started;
  let telemetry: string;
  before(async () => {
    idport = await start(WITH_TELEMETRY);
    assert.ok(idport.addresses.telemetry);
    telemetry = `http://${idport.addresses.telemetry}`;
  });
  after(() => idport.close());

  it('listens on its own address beside the web listener', () => {
    assert.match(idport.addresses.telemetry ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match(idport.addresses.http ?? '', /^127\.0\.0\.1:\d+$/);
    assert.notEqual(idport.addresses.telemetry, idport.addresses.http);
    assert.ok(idport.server.telemetry);
  });

  it("counts requests by Dex's route labels, issued tokens by grant type and failed logins by connector", async () => {
    await loginAndRedeem(idport.origin, 1);
    // Neither a route nor a label: unmatched paths are not counted, and raw URLs never become labels.
    assert.equal((await fetch(`${idport.origin}/dex/no/such/route?secret=1`)).status, 404);
    const response = await fetch(`${telemetry}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const lines = samples(await response.text());
    for (const line of [
      'http_requests_total{code="200",method="POST",handler="/token"} 1',
      'http_requests_total{code="401",method="POST",handler="/auth/{connector}/login"} 1',
      'http_requests_total{code="303",method="POST",handler="/auth/{connector}/login"} 1',
      'http_requests_total{code="200",method="GET",handler="/auth/{connector}/login"} 1',
      'http_requests_total{code="303",method="GET",handler="/auth"} 1',
      'request_duration_seconds_count{code="200",method="POST",handler="/token"} 1',
      'request_duration_seconds_bucket{le="10",code="200",method="POST",handler="/token"} 1',
      'request_duration_seconds_bucket{le="+Inf",code="200",method="POST",handler="/token"} 1',
      'idport_tokens_issued_total{grant_type="authorization_code"} 1',
      'idport_password_login_failures_total{connector="local"} 1',
    ])
      assert.ok(
        lines.includes(line),
        `missing ${line}\n${lines.filter((l) => !/^(process|nodejs)_/.test(l)).join('\n')}`,
      );
    assert.ok(
      lines.some((line) => line.startsWith('process_cpu_user_seconds_total ')),
      'Node process metrics',
    );
    assert.ok(
      lines.some((line) => line.startsWith('nodejs_heap_size_used_bytes ')),
      'Node heap metrics',
    );
    const handlers = new Set(lines.flatMap((line) => [...(/handler="([^"]*)"/.exec(line)?.slice(1) ?? [])]));
    assert.deepEqual([...handlers].sort(), [
      '/approval',
      '/auth',
      '/auth/{connector}',
      '/auth/{connector}/login',
      '/token',
    ]);
  });

  it('answers the health checks', async () => {
    for (const path of ['/healthz', '/healthz/live', '/healthz/ready']) {
      const response = await fetch(`${telemetry}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    }
    assert.deepEqual(await (await fetch(`${telemetry}/healthz/ready`)).json(), {
      status: 'ok',
      checks: { storage: 'ok' },
    });
    assert.deepEqual(await (await fetch(`${telemetry}/healthz/live`)).json(), { status: 'ok' });
  });

  it('serves no metrics on the public listener', async () => {
    for (const path of ['/metrics', '/dex/metrics']) {
      const response = await fetch(`${idport.origin}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: string }).error, 'not_found');
    }
  });
});

describe('without telemetry.http', () => {
  it('has no telemetry listener', async () => {
    const idport = await start(configYaml());
    try {
      assert.equal(idport.server.telemetry, undefined);
      assert.deepEqual(Object.keys(idport.addresses), ['http']);
    } finally {
      await idport.close();
    }
  });
});

describe('closing', () => {
  it('stops the telemetry listener with the server', async () => {
    const idport = await start(WITH_TELEMETRY);
    const telemetry = `http://${idport.addresses.telemetry ?? ''}`;
    assert.equal((await fetch(`${telemetry}/healthz/live`)).status, 200);
    await idport.close();
    await assert.rejects(fetch(`${telemetry}/healthz/live`), { name: 'TypeError', message: 'fetch failed' });
    await assert.rejects(fetch(`${idport.origin}/dex/healthz/live`), { name: 'TypeError', message: 'fetch failed' });
  });
});

describe("Dex's build info, response sizes and web /healthz", () => {
  let idport: Started;
  before(async () => {
    idport = await start(WITH_TELEMETRY);
  });
  after(() => idport.close());

  it("exposes dex_build_info and response_size_bytes with Dex's buckets", async () => {
    assert.equal((await fetch(`${idport.origin}/dex/.well-known/openid-configuration`)).status, 200);
    const lines = samples(await (await fetch(`http://${idport.addresses.telemetry ?? ''}/metrics`)).text());
    assert.ok(
      lines.some((line) =>
        /^dex_build_info\{version="\d+\.\d+\.\d+",go_version="node[\d.]+",platform="\w+\/\w+"\} 1$/.test(line),
      ),
      lines.filter((line) => line.startsWith('dex_')).join('\n'),
    );
    for (const le of ['200', '500', '900', '1500', '+Inf'])
      assert.ok(
        lines.some((line) =>
          line.startsWith(
            `response_size_bytes_bucket{le="${le}",code="200",method="GET",handler="/.well-known/openid-configuration"}`,
          ),
        ),
        le,
      );
  });

  it('answers /healthz on the web listener as Dex does: text "Health check passed"', async () => {
    const response = await fetch(`${idport.origin}/dex/healthz`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await response.text(), 'Health check passed');
  });
});
