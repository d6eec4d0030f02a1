/** Timers a test fires by hand (a WorkGate's `startTimer`), so a bounded wait is tested without waiting. */
import type { StartTimer } from '../../connectors/local/bcrypt.js';

interface Pending {
  readonly ms: number;
  readonly fire: () => void;
  cancelled: boolean;
}

export class ManualTimers {
  private readonly pending: Pending[] = [];
  private readonly started: (() => void)[] = [];

  /** Pass as `startTimer`. */
  readonly start: StartTimer = (ms, fire) => {
    const timer: Pending = { ms, fire, cancelled: false };
    this.pending.push(timer);
    for (const notify of this.started.splice(0)) notify();
    return () => {
      timer.cancelled = true;
    };
  };

  /** Timers started and neither fired nor cancelled. */
  get armed(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }

  /** Resolves once `count` timers are armed (a request has reached the gate's queue). */
  async whenArmed(count = 1): Promise<void> {
    while (this.armed < count) await new Promise<void>((resolve) => this.started.push(resolve));
  }

  /** Fires every armed timer, as if their time had passed; returns how many fired. */
  fireAll(): number {
    const due = this.pending.splice(0).filter((t) => !t.cancelled);
    for (const t of due) t.fire();
    return due.length;
  }
}
