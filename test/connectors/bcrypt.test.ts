import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConnectorError } from '../../connectors/connector.js';
import { compareBcrypt, hashBcrypt, nativeHashForm, WorkGate } from '../../connectors/local/bcrypt.js';
import { ManualTimers } from '../support/manual-timers.js';

// "correct horse" hashed by libxcrypt (glibc's crypt(3), an implementation independent of the one under test), in
// every form Dex accepts ($2a$ from Go, $2b$ from OpenBSD, $2y$ from PHP/htpasswd) and every cost from 10 to 16.
const VECTORS = [
  '$2a$10$abcdefghijklmnopqrstuu23JPZtHcGhwXSF41f93o/7vBdDut3Xu',
  '$2b$10$ABCDEFGHIJKLMNOPQRSTUunlZRSh10lHsJ6SkDPm48svJduA2MzDq',
  '$2y$10$0123456789./abcdefghiuDEQsiFrzBjcFBQ2601lDs6m5SWTaBkq',
  '$2a$11$abcdefghijklmnopqrstuuJTN457r0dtu1UoHjOqLuxwe4RRV9kEC',
  '$2b$12$ABCDEFGHIJKLMNOPQRSTUu6IMaX9mhpGvB759uQD/Ph0vpUV9f2sO',
  '$2y$13$0123456789./abcdefghiuGB0erMTDFoIsQdtcOHmSmXah1ZffrIq',
  '$2a$14$abcdefghijklmnopqrstuuVjy3WfYsef9X9ig7GWAQsq.R8VvWccC',
  '$2b$15$ABCDEFGHIJKLMNOPQRSTUu/f0ZZVgyterMUtu/R62mYzu8Z.KjqkK',
  '$2y$16$0123456789./abcdefghiuDAQMm2B94LYfXXKiytx8KT6GV.3KxHq',
];
// Dex's documented example: "password" at cost 10, written by Go.
const DEX_EXAMPLE = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';

describe('native bcrypt', () => {
  it('verifies $2a$, $2b$ and $2y$ hashes at every cost from 10 to 16', async () => {
    for (const hash of VECTORS) assert.equal(await compareBcrypt('correct horse', hash), true, hash);
  });

  it('refuses a wrong password in every form', async () => {
    for (const hash of VECTORS.filter((h) => h.slice(4, 6) === '10')) {
      assert.equal(await compareBcrypt('correct horsE', hash), false, hash);
    }
    assert.equal(await compareBcrypt('password', DEX_EXAMPLE), true);
    assert.equal(await compareBcrypt('passwore', DEX_EXAMPLE), false);
  });

  it('reads $2y$ as $2b$ and leaves the other forms alone', () => {
    assert.equal(nativeHashForm(VECTORS[2] ?? ''), `$2b$${VECTORS[2]?.slice(4)}`);
    assert.equal(nativeHashForm(DEX_EXAMPLE), DEX_EXAMPLE);
  });

  it('never matches a password with a NUL character, even when the part before it is right', async () => {
    const hash = await hashBcrypt('secret', 10);
    assert.equal(await compareBcrypt('secret', hash), true);
    assert.equal(await compareBcrypt('secret\0anything', hash), false);
  });

  it('hashes as $2b$ at the cost asked for', async () => {
    const hash = await hashBcrypt('s3cret!', 11);
    assert.match(hash, /^\$2b\$11\$[./A-Za-z0-9]{53}$/);
    assert.equal(await compareBcrypt('s3cret!', hash), true);
    assert.equal(await compareBcrypt('s3cret', hash), false);
  });

  it('answers false for something that is not a bcrypt hash', async () => {
    assert.equal(await compareBcrypt('password', 'password'), false);
  });
});

describe('work gate', () => {
  /** A task that stays running until released, recording how many ran at once. */
  function tasks() {
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const task = (): Promise<number> => {
      running++;
      peak = Math.max(peak, running);
      return new Promise<number>((resolve) =>
        releases.push(() => {
          running--;
          resolve(peak);
        }),
      );
    };
    const releaseAll = async (): Promise<void> => {
      while (releases.length > 0) {
        releases.shift()?.();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    return { task, releaseAll, peak: () => peak, started: () => releases.length };
  }

  it('runs at most `concurrency` tasks at once and queues the rest in order', async () => {
    const gate = new WorkGate({
      concurrency: 2,
      queueLimit: 10,
      maxWaitMs: 10_000,
      startTimer: new ManualTimers().start,
    });
    const t = tasks();
    const order: number[] = [];
    const runs = [0, 1, 2, 3, 4].map((i) => gate.run(() => t.task().then(() => order.push(i))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.started(), 2);
    assert.deepEqual(gate.load, { running: 2, waiting: 3 });
    await t.releaseAll();
    await Promise.all(runs);
    assert.equal(t.peak(), 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('refuses work as temporarily unavailable when the queue is full, and accepts it again once it drains', async () => {
    const gate = new WorkGate({
      concurrency: 1,
      queueLimit: 2,
      maxWaitMs: 10_000,
      startTimer: new ManualTimers().start,
    });
    const t = tasks();
    const accepted = [gate.run(t.task), gate.run(t.task), gate.run(t.task)];
    await assert.rejects(gate.run(t.task), (err: unknown) => {
      assert.ok(err instanceof ConnectorError);
      assert.equal(err.temporary, true);
      return true;
    });
    await t.releaseAll();
    await Promise.all(accepted);
    const again = gate.run(async () => 'done');
    assert.equal(await again, 'done');
  });

  it('frees the slot when a task fails', async () => {
    const gate = new WorkGate({
      concurrency: 1,
      queueLimit: 1,
      maxWaitMs: 10_000,
      startTimer: new ManualTimers().start,
    });
    await assert.rejects(
      gate.run(() => Promise.reject(new Error('boom'))),
      { message: 'boom' },
    );
    assert.equal(await gate.run(async () => 7), 7);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('refuses a task that waited maxWaitMs for a slot, as temporarily unavailable, without running it', async () => {
    const timers = new ManualTimers();
    const gate = new WorkGate({ concurrency: 1, queueLimit: 10, maxWaitMs: 10_000, startTimer: timers.start });
    const t = tasks();
    const holding = gate.run(t.task);
    let ran = false;
    const waiter = gate.run(async () => (ran = true));
    await timers.whenArmed();
    assert.deepEqual(gate.load, { running: 1, waiting: 1 });
    assert.equal(timers.fireAll(), 1);
    await assert.rejects(waiter, (err: unknown) => {
      assert.ok(err instanceof ConnectorError);
      assert.equal(err.temporary, true);
      assert.equal(err.message, 'password check waited 10000 ms for a slot');
      assert.equal(err.userMessage, 'Too many logins at once. Try again in a moment.');
      return true;
    });
    assert.equal(ran, false);
    assert.deepEqual(gate.load, { running: 1, waiting: 0 }, 'the refused waiter left the queue');
    await t.releaseAll();
    await holding;
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('serves a task whose slot came within maxWaitMs, and its timer no longer refuses it', async () => {
    const timers = new ManualTimers();
    const gate = new WorkGate({ concurrency: 1, queueLimit: 10, maxWaitMs: 10_000, startTimer: timers.start });
    const t = tasks();
    const holding = gate.run(t.task);
    const waiter = gate.run(async () => 'served');
    await timers.whenArmed();
    await t.releaseAll();
    assert.equal(await waiter, 'served');
    await holding;
    assert.equal(timers.armed, 0, 'the wait timer was cancelled when the slot came');
    assert.equal(timers.fireAll(), 0);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });

  it('refuses only the waiters past the bound and serves the next one in order', async () => {
    const timers = new ManualTimers();
    const gate = new WorkGate({ concurrency: 1, queueLimit: 10, maxWaitMs: 10_000, startTimer: timers.start });
    const t = tasks();
    const holding = gate.run(t.task);
    const stale = gate.run(async () => 'stale');
    await timers.whenArmed();
    timers.fireAll();
    const fresh = gate.run(async () => 'fresh');
    await assert.rejects(stale, ConnectorError);
    await timers.whenArmed();
    await t.releaseAll();
    assert.equal(await fresh, 'fresh');
    await holding;
  });
});
