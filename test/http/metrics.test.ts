/**
 * Dex's per-response metrics, kept per series in plain numbers (src/http/metrics.ts): what the exposition says
 * after known observations, bucket by bucket, as Prometheus reads it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHttpMetrics, exposition } from '../../src/http/metrics.js';

const keys = { code: '200', method: 'GET', handler: '/keys' };

const linesOf = async (metrics: ReturnType<typeof createHttpMetrics>, prefix: string): Promise<string[]> =>
  (await exposition(metrics)).body.split('\n').filter((line) => line.startsWith(prefix));

describe('response metrics', () => {
  it('counts requests per series and fills cumulative buckets, a value on a bound counting in that bucket', async () => {
    const metrics = createHttpMetrics('1.2.3');
    metrics.observeResponse(keys, 0.25, 1200);
    metrics.observeResponse(keys, 0.3, 200);
    metrics.observeResponse(keys, 11, undefined);
    metrics.observeResponse({ code: '404', method: 'GET', handler: '/x' }, 0.1, undefined);
    assert.deepEqual(await linesOf(metrics, 'http_requests_total'), [
      'http_requests_total{code="200",method="GET",handler="/keys"} 3',
      'http_requests_total{code="404",method="GET",handler="/x"} 1',
    ]);
    const duration = await linesOf(metrics, 'request_duration_seconds');
    assert.deepEqual(duration.slice(0, 9), [
      'request_duration_seconds_bucket{le="0.25",code="200",method="GET",handler="/keys"} 1',
      'request_duration_seconds_bucket{le="0.5",code="200",method="GET",handler="/keys"} 2',
      'request_duration_seconds_bucket{le="1",code="200",method="GET",handler="/keys"} 2',
      'request_duration_seconds_bucket{le="2.5",code="200",method="GET",handler="/keys"} 2',
      'request_duration_seconds_bucket{le="5",code="200",method="GET",handler="/keys"} 2',
      'request_duration_seconds_bucket{le="10",code="200",method="GET",handler="/keys"} 2',
      'request_duration_seconds_bucket{le="+Inf",code="200",method="GET",handler="/keys"} 3',
      'request_duration_seconds_sum{code="200",method="GET",handler="/keys"} 11.55',
      'request_duration_seconds_count{code="200",method="GET",handler="/keys"} 3',
    ]);
    assert.equal(duration.length, 18);
    // Only responses with a Content-Length are sized; a series without any has no size lines.
    assert.deepEqual(await linesOf(metrics, 'response_size_bytes'), [
      'response_size_bytes_bucket{le="200",code="200",method="GET",handler="/keys"} 1',
      'response_size_bytes_bucket{le="500",code="200",method="GET",handler="/keys"} 1',
      'response_size_bytes_bucket{le="900",code="200",method="GET",handler="/keys"} 1',
      'response_size_bytes_bucket{le="1500",code="200",method="GET",handler="/keys"} 2',
      'response_size_bytes_bucket{le="+Inf",code="200",method="GET",handler="/keys"} 2',
      'response_size_bytes_sum{code="200",method="GET",handler="/keys"} 1400',
      'response_size_bytes_count{code="200",method="GET",handler="/keys"} 2',
    ]);
  });

  it('declares each metric with the HELP and TYPE Dex uses, once', async () => {
    const metrics = createHttpMetrics();
    metrics.observeResponse(keys, 0.01, 10);
    const text = (await exposition(metrics)).body;
    for (const line of [
      '# HELP http_requests_total Count of all HTTP requests.',
      '# TYPE http_requests_total counter',
      '# HELP request_duration_seconds A histogram of latencies for requests.',
      '# TYPE request_duration_seconds histogram',
      '# HELP response_size_bytes A histogram of response sizes for requests.',
      '# TYPE response_size_bytes histogram',
    ])
      assert.equal(text.split('\n').filter((l) => l === line).length, 1, line);
  });

  it('keeps two servers in one process apart', async () => {
    const a = createHttpMetrics();
    const b = createHttpMetrics();
    a.observeResponse(keys, 0.01, undefined);
    assert.deepEqual(await linesOf(b, 'http_requests_total{'), []);
    assert.deepEqual(await linesOf(a, 'http_requests_total{'), [
      'http_requests_total{code="200",method="GET",handler="/keys"} 1',
    ]);
  });
});
