/**
 * Where the CPU of a wrk round went, read from Linux's /proc: idport's main thread (the event loop: HTTP, the grant,
 * storage, jose's JS), idport's other threads (libuv's pool, where WebCrypto signs, and V8's GC helpers), and the rest
 * of the machine (wrk, the kernel's loopback TCP, anything else running). Per request, so that what a target needs can
 * be set against what is spent: on a machine of `cores` cores a server can answer at most
 * cores / (main + other threads + rest) requests a second, whatever the main thread is made to cost.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Clock ticks per second of /proc's counters (USER_HZ; 100 on every Linux build that matters here). */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  readonly at: number;
  /** Busy ticks of the whole machine (every core): user, nice, system, irq, softirq, steal. */
  readonly machineBusy: number;
  readonly main: number;
  readonly otherThreads: number;
}

/** CPU milliseconds per request, and how busy the machine was. */
export interface CpuSplit {
  readonly mainMs: number;
  readonly otherThreadsMs: number;
  /** Everything else the machine did per request: wrk, the kernel, other processes. */
  readonly restMs: number;
  /** Cores busy on average over the round (at most `cores`). */
  readonly busyCores: number;
  readonly cores: number;
}

/** user + system ticks of a /proc stat line (fields 14 and 15; the command name may hold spaces). */
const threadTicks = (stat: string): number => {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

const machineBusyTicks = (): number => {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
};

/** A snapshot of `pid`'s threads and the machine, or undefined where /proc is not Linux's. */
export const cpuSnapshot = (pid: number): CpuSnapshot | undefined => {
  try {
    let main = 0;
    let otherThreads = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let ticks: number;
      try {
        ticks = threadTicks(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      } catch {
        continue; // the thread ended between the listing and the read
      }
      if (tid === String(pid)) main += ticks;
      else otherThreads += ticks;
    }
    return { at: performance.now(), machineBusy: machineBusyTicks(), main, otherThreads };
  } catch {
    return undefined;
  }
};

/** The split between two snapshots of the same process over `requests` requests. */
export const cpuSplit = (before: CpuSnapshot, after: CpuSnapshot, requests: number): CpuSplit => {
  const ms = (ticks: number): number => (ticks * 1000) / TICKS_PER_SECOND / Math.max(1, requests);
  const main = after.main - before.main;
  const otherThreads = after.otherThreads - before.otherThreads;
  const machine = after.machineBusy - before.machineBusy;
  const seconds = (after.at - before.at) / 1000;
  return {
    mainMs: ms(main),
    otherThreadsMs: ms(otherThreads),
    restMs: ms(Math.max(0, machine - main - otherThreads)),
    busyCores: machine / TICKS_PER_SECOND / seconds,
    cores: availableParallelism(),
  };
};

/** Adds up splits of several rounds, weighting each by its requests. */
export const combineSplits = (splits: readonly { split: CpuSplit; requests: number }[]): CpuSplit | undefined => {
  const total = splits.reduce((sum, s) => sum + s.requests, 0);
  const [first] = splits;
  if (first === undefined || total === 0) return undefined;
  const weighted = (pick: (split: CpuSplit) => number): number =>
    splits.reduce((sum, s) => sum + pick(s.split) * s.requests, 0) / total;
  return {
    mainMs: weighted((s) => s.mainMs),
    otherThreadsMs: weighted((s) => s.otherThreadsMs),
    restMs: weighted((s) => s.restMs),
    busyCores: weighted((s) => s.busyCores),
    cores: first.split.cores,
  };
};

/**
 * The most main-thread CPU per request that still allows `target` requests a second, given what the other threads
 * and the rest of the machine spend per request (negative: out of reach even at zero).
 */
export const mainBudgetMs = (split: CpuSplit, target: number): number =>
  (split.cores * 1000) / target - split.otherThreadsMs - split.restMs;

/** The rate at zero main-thread cost: the machine's cores over what the rest costs per request. */
export const rateAtZeroMain = (split: CpuSplit): number => (split.cores * 1000) / (split.otherThreadsMs + split.restMs);
