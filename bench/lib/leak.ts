/**
 * `npm run bench -- --leak`: idport's RSS (from /proc) and V8 heap (prom-client's `nodejs_heap_size_used_bytes` on
 * the telemetry listener's /metrics) after 100,000 and after 1,000,000 issued tokens (its own
 * `idport_tokens_issued_total`), which must stay within 10 %. The tokens come from wrk driving the client_credentials
 * grant with ES256 keys (the fastest grant, so a million fit in minutes), on SQLite.
 */
import { log } from './rounds.js';
import { rssOf, startIdport } from './servers.js';
import { clientCredentialsLoad } from './rounds.js';
import { mb, type Row } from './table.js';
import { wrk } from './wrk.js';

const metric = (text: string, name: string): number =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)`, 'gm'))].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );

const scrape = async (telemetry: string): Promise<string> => (await fetch(`${telemetry}/metrics`)).text();

/**
 * Loaded into idport with --import for this check only: a full garbage collection on SIGUSR2, so the heap is
 * sampled as what is retained, not as however much garbage the last collection happened to leave (without it,
 * the heap after 1,000,000 tokens could read 14 % below the one after 100,000).
 */
const GC_ON_SIGNAL = `data:text/javascript,${encodeURIComponent("process.on('SIGUSR2', () => globalThis.gc?.());")}`;
const GC_FLAGS = ['--expose-gc', '--import', GC_ON_SIGNAL];

/**
 * V8 sizes its heap by itself: under load it grows the young generation (two semi-spaces, up to 16 MB each) and keeps
 * freed pages, and some seconds into an idle spell its memory reducer hands them back. A sample taken on either side
 * of that moved RSS by 30 MB without anything retained (seen: +33.7 % in one run, -25.3 % and -27.8 % in others, the
 * heap used flat within 3 % in all three; holding the semi-spaces and turning the reducer off only moved the swing).
 * So each point is read idle, the way a process that has served its load sits: the lowest of samples over 24 s, each
 * right after a full collection, by which time the reducer has run.
 */
const SAMPLES = 12;
const SAMPLE_EVERY_MS = 2000;

const settle = async (pid: number, telemetry: string): Promise<{ rss: number; heap: number; heapTotal: number }> => {
  let rss = Infinity;
  let heap = Infinity;
  let heapTotal = Infinity;
  for (let i = 0; i < SAMPLES; i++) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    process.kill(pid, 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 200));
    rss = Math.min(rss, rssOf(pid));
    const text = await scrape(telemetry);
    heap = Math.min(heap, metric(text, 'nodejs_heap_size_used_bytes'));
    heapTotal = Math.min(heapTotal, metric(text, 'nodejs_heap_size_total_bytes'));
  }
  return { rss, heap, heapTotal };
};

export const leakScenario = async (first = 100_000, last = 1_000_000): Promise<Row[]> => {
  const idport = await startIdport({ kind: 'sqlite' }, 'ES256', GC_FLAGS);
  const telemetry = idport.telemetry ?? '';
  const issued = async (): Promise<number> => metric(await scrape(telemetry), 'idport_tokens_issued_total');
  let failures = 0;
  const issueUntil = async (target: number): Promise<void> => {
    for (let count = await issued(); count < target; count = await issued()) {
      const result = await wrk(clientCredentialsLoad(idport, 20));
      failures += result.failures;
      // RSS as it stands (no collection) and the memory outside V8's heap, to see a trend between the two points.
      const external = metric(await scrape(telemetry), 'nodejs_external_memory_bytes');
      log(
        `leak: ${count + result.requests} tokens issued (${result.perSecond.toFixed(0)}/s), ` +
          `RSS ${mb(rssOf(idport.pid))}, external memory ${mb(external)}`,
      );
    }
  };
  try {
    await issueUntil(first);
    const early = { ...(await settle(idport.pid, telemetry)), tokens: await issued() };
    await issueUntil(last);
    const late = { ...(await settle(idport.pid, telemetry)), tokens: await issued() };
    const row = (what: 'rss' | 'heap'): Row => {
      const growth = late[what] / early[what] - 1;
      return {
        scenario: `leak: ${what === 'rss' ? 'RSS' : 'heap used'} after ${early.tokens} → ${late.tokens} tokens`,
        idport: [mb(early[what]), mb(late[what])],
        oidcProvider: [],
        ratio: `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %`,
        target: 'within 10 %',
        pass: failures === 0 && Math.abs(growth) <= 0.1,
        note: failures > 0 ? `${failures} failed requests` : undefined,
      };
    };
    // V8 sizes its heap to the allocation rate, and what it has reserved is resident: reported beside RSS so a
    // change of RSS can be told apart from a heap that was still growing to its working size at the first point.
    const reserved: Row = {
      scenario: `leak: V8 heap reserved (total) after ${early.tokens} → ${late.tokens} tokens`,
      idport: [mb(early.heapTotal), mb(late.heapTotal)],
      oidcProvider: [],
      ratio: `${late.heapTotal >= early.heapTotal ? '+' : ''}${((late.heapTotal / early.heapTotal - 1) * 100).toFixed(1)} %`,
      target: '',
      pass: undefined,
    };
    return [row('rss'), row('heap'), reserved];
  } finally {
    await idport.stop();
  }
};
