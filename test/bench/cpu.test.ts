import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineSplits, cpuSnapshot, cpuSplit, mainBudgetMs, rateAtZeroMain } from '../../bench/lib/cpu.js';

describe('bench CPU split', () => {
  it(
    'reads this process: the main thread is counted apart from the others',
    { skip: process.platform !== 'linux' },
    () => {
      const before = cpuSnapshot(process.pid);
      const until = performance.now() + 60;
      while (performance.now() < until); // 60 ms of main-thread work
      const after = cpuSnapshot(process.pid);
      assert.ok(before !== undefined && after !== undefined);
      assert.ok(after.main - before.main >= 2, `main thread ticks ${after.main - before.main}`);
      assert.ok(after.machineBusy >= after.main - before.main);
    },
  );

  it('answers undefined for a process that does not exist', () => {
    assert.equal(cpuSnapshot(2 ** 30), undefined);
  });

  it('splits ticks per request and sets a budget against a target', () => {
    // 2 s on 2 cores: the main thread 0.5 s, the pool 1.5 s, the rest 0.2 s, over 2,000 requests.
    const before = { at: 0, machineBusy: 1_000, main: 100, otherThreads: 300 };
    const after = { at: 2_000, machineBusy: 1_220, main: 150, otherThreads: 450 };
    const split = { ...cpuSplit(before, after, 2_000), cores: 2 };
    assert.equal(split.mainMs, 0.25);
    assert.equal(split.otherThreadsMs, 0.75);
    assert.equal(split.restMs, 0.1);
    assert.equal(split.busyCores, 1.1);
    // 2,000 ms of CPU a second over 0.85 ms of everything but the main thread.
    assert.equal(Math.round(rateAtZeroMain(split)), 2353);
    // At 2,000/s each request may cost 1 ms in all, 0.85 of which is not the main thread's.
    assert.equal(mainBudgetMs(split, 2_000).toFixed(3), '0.150');
    assert.ok(mainBudgetMs(split, 3_000) < 0, 'beyond the machine at any main-thread cost');
  });

  it('weights rounds by their requests when it adds them up', () => {
    const split = (mainMs: number) => ({ mainMs, otherThreadsMs: 0, restMs: 0, busyCores: 1, cores: 2 });
    const combined = combineSplits([
      { split: split(1), requests: 100 },
      { split: split(4), requests: 300 },
    ]);
    assert.equal(combined?.mainMs, 3.25);
    assert.equal(combineSplits([]), undefined);
  });
});
