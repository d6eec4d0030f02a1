/**
 * Runs wrk (Debian's `wrk` package) with one thread and 32 connections on loopback and reads its summary:
 * requests/second, the 50th and 99th latency percentiles (`--latency`), errors and non-2xx answers, and the
 * `BENCH key=value` lines the Lua scripts under bench/wrk print.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cpuSnapshot, cpuSplit, type CpuSplit } from './cpu.js';
import { repo } from './servers.js';

export const CONNECTIONS = 32;

export interface Measured {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Socket errors plus answers outside 2xx/3xx (among them the script's own failures: codes exhausted, chains broken). */
  readonly failures: number;
  readonly note?: string | undefined;
  /** Where the CPU went during the round (WrkRun.watchPid), Linux only. */
  readonly cpu?: CpuSplit | undefined;
}

export const requireWrk = (): void => {
  if (spawnSync('wrk', ['--version']).error !== undefined)
    throw new Error('wrk is not installed: `apt-get install -y wrk` (Debian), then run the bench again');
};

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

const latency = (text: string, percentile: string): number => {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  return match?.[1] !== undefined && match[2] !== undefined ? Number(match[1]) * (UNIT_MS[match[2]] ?? NaN) : NaN;
};

const count = (text: string, pattern: RegExp): number => {
  const match = pattern.exec(text);
  return match === null ? 0 : match.slice(1).reduce((sum, value) => sum + Number(value ?? 0), 0);
};

/** Parses wrk's stdout (exported for the bench's own check of the parser). */
export const parseWrk = (text: string): Measured => {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  if (rate?.[1] === undefined || requests?.[1] === undefined) throw new Error(`unexpected wrk output:\n${text}`);
  const scriptFailures = [...text.matchAll(/^BENCH (\w+)=(\d+)$/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
  const socketErrors = count(text, /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = count(text, /Non-2xx or 3xx responses: (\d+)/);
  // A code the script ran out of is sent anyway and answered 400, so it is among the non-2xx answers already.
  const failures = socketErrors + Math.max(non2xx, scriptFailures);
  return {
    perSecond: Number(rate[1]),
    p50Ms: latency(text, '50'),
    p99Ms: latency(text, '99'),
    requests: Number(requests[1]),
    failures,
    note:
      failures > 0 ? `${failures} failed (${text.match(/^BENCH .*$/gm)?.join(', ') ?? 'non-2xx/socket'})` : undefined,
  };
};

export interface WrkRun {
  readonly url: string;
  readonly seconds: number;
  readonly script: 'post.lua' | 'codes.lua' | 'refresh.lua' | undefined;
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** The server's pid, to split the round's CPU between its threads and the rest of the machine. */
  readonly watchPid?: number | undefined;
}

/** One wrk run: `wrk -t1 -c32 -d<seconds>s --latency [-s script] url`, at normal priority (not niced). */
export const wrk = (run: WrkRun): Promise<Measured> =>
  new Promise((resolve, reject) => {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${run.seconds}s`, '--timeout', '10s', '--latency'];
    if (run.script !== undefined) args.push('-s', join(repo, 'bench', 'wrk', run.script));
    args.push(run.url);
    const before = run.watchPid === undefined ? undefined : cpuSnapshot(run.watchPid);
    const child = spawn('wrk', args, { env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}:\n${out}`));
      else {
        try {
          const measured = parseWrk(out);
          const after = run.watchPid === undefined ? undefined : cpuSnapshot(run.watchPid);
          const cpu = before && after ? cpuSplit(before, after, measured.requests) : undefined;
          resolve({ ...measured, cpu });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
  });
