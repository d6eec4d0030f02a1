/**
 * `npm run bench`: token endpoint throughput, latency and server memory, measured over real loopback HTTP. The
 * server runs in its own process (bench/server.ts) so the load generator does not steal its event loop. Every
 * loop is bounded in count and time.
 *
 *   npm run bench                                  # all scenarios, N=1000, 16 requests in flight
 *   BENCH_N=2000 BENCH_CONCURRENCY=32 npm run bench
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const N = Number(process.env.BENCH_N ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TIME_LIMIT_MS = 60_000;

interface Result {
  readonly scenario: string;
  readonly ops: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface Ready {
  readonly kind: 'ready';
  readonly issuer: string;
  readonly codes: string[];
  readonly memory: NodeJS.MemoryUsage;
}

const round = (x: number): number => Math.round(x * 100) / 100;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Runs `task(i)` for i in [0, n) with CONCURRENCY in flight; stops early at the time limit. */
const measure = async (scenario: string, n: number, task: (i: number) => Promise<void>): Promise<Result> => {
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + TIME_LIMIT_MS;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await task(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    scenario,
    ops: latencies.length,
    perSecond: Math.round((latencies.length / elapsed) * 1000),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
  };
};

const message = <T>(child: ChildProcess, kind: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === kind) {
        child.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });

const runBackend = async (backend: 'sqlite' | 'memory', algorithm: 'RS256' | 'ES256' | 'EdDSA'): Promise<Result[]> => {
  const child = fork('bench/server.ts', [backend, algorithm, String(N)], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: 'inherit',
  });
  try {
    const ready = await message<Ready>(child, 'ready');
    const basic = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;
    const post = async (body: string): Promise<Record<string, string>> => {
      const response = await fetch(`${ready.issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      if (response.status !== 200)
        throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as Record<string, string>;
    };
    const label = `${backend} ${algorithm}`;
    const refreshTokens: string[] = [];
    const results = [
      await measure(`${label}: authorization_code grant`, ready.codes.length, async (i) => {
        const tokens = await post(
          `grant_type=authorization_code&code=${ready.codes[i]}&redirect_uri=${encodeURIComponent('http://127.0.0.1/cb')}`,
        );
        if (tokens.refresh_token !== undefined) refreshTokens.push(tokens.refresh_token);
      }),
    ];
    results.push(
      await measure(`${label}: refresh_token grant (rotation)`, refreshTokens.length, async (i) => {
        await post(`grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshTokens[i] ?? '')}`);
      }),
    );
    results.push(
      await measure(`${label}: discovery`, N, async () => {
        await (await fetch(`${ready.issuer}/.well-known/openid-configuration`)).arrayBuffer();
      }),
    );
    child.send('memory');
    const after = await message<{ memory: NodeJS.MemoryUsage }>(child, 'memory');
    console.log(
      `  ${label}: server RSS ${mib(ready.memory.rss)} → ${mib(after.memory.rss)}, heap ${mib(ready.memory.heapUsed)} → ${mib(after.memory.heapUsed)} after ${N * 2} token responses`,
    );
    return results;
  } finally {
    child.send('stop');
  }
};

console.log(`idport bench: N=${N}, concurrency=${CONCURRENCY}, node ${process.version}`);
const results = [
  ...(await runBackend('sqlite', 'RS256')),
  ...(await runBackend('sqlite', 'ES256')),
  ...(await runBackend('sqlite', 'EdDSA')),
  ...(await runBackend('memory', 'RS256')),
];
console.table(results);
