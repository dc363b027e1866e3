// The system clock's timers: a delay past Node's longest timer (a rate of one request a century) is clamped,
// not taken as 1 ms, which re-armed a rate limiter's timer every millisecond with a warning each time.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, systemClock } from '../../../lib/downstream/clock.js';

describe('systemClock.setTimeout', () => {
  it('clamps a delay past Node’s longest timer: no overflow warning, and it does not fire at once', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    let fired = 0;
    const handle = systemClock.setTimeout(() => fired++, MAX_TIMER_MS * 1000);
    try {
      await sleep(30);
      expect(fired).toBe(0);
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
    } finally {
      systemClock.clearTimeout(handle);
      process.off('warning', onWarning);
    }
  });
});
