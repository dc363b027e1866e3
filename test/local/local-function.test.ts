import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { FunctionThrottledError, FunctionTimeoutError, LocalFunction } from '../../local/local-function.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LocalFunction', () => {
  it('runs each invocation in a container of its own at a time: warm ones reused, cold ones made when all are busy', async () => {
    let made = 0;
    const destroyed: number[] = [];
    const fn = new LocalFunction({
      name: 'pool',
      timeoutMs: 1_000,
      container: () => {
        const id = ++made;
        let busy = false;
        return {
          handler: async (ms: number) => {
            // A container never serves two invocations at once.
            expect(busy).toBe(false);
            busy = true;
            await sleep(ms);
            busy = false;
            return id;
          },
          destroy: () => {
            destroyed.push(id);
          },
        };
      },
    });
    const first = await Promise.all([fn.invoke(20), fn.invoke(20), fn.invoke(20)]);
    expect(new Set(first).size).toBe(3);
    const again = await Promise.all([fn.invoke(5), fn.invoke(5)]);
    expect(made).toBe(3);
    for (const id of again) expect(first).toContain(id);
    expect(fn.stats).toMatchObject({ invocations: 5, errors: 0, peakInFlight: 3, containers: 3 });
    await fn.close();
    expect(destroyed.sort()).toEqual([1, 2, 3]);
  });

  it('throttles above reserved concurrency and frees the slot when the handler ends', async () => {
    const fn = new LocalFunction({
      name: 'one',
      timeoutMs: 1_000,
      reservedConcurrency: 1,
      handler: () => sleep(20),
    });
    const running = fn.invoke({});
    await expect(fn.invoke({})).rejects.toBeInstanceOf(FunctionThrottledError);
    await running;
    await expect(fn.invoke({})).resolves.toBeUndefined();
    expect(fn.stats).toMatchObject({ invocations: 2, throttles: 1, peakInFlight: 1 });
  });

  it('fails an invocation past its timeout, counts it in flight until it really ends, and drops its container', async () => {
    let made = 0;
    // Each handler runs until the test lets it end: no race between the timeout and a sleep.
    const endings: (() => void)[] = [];
    const fn = new LocalFunction({
      name: 'slow',
      timeoutMs: 20,
      container: () => {
        made++;
        return { handler: () => new Promise<void>((resolve) => endings.push(resolve)) };
      },
    });
    await expect(fn.invoke({})).rejects.toBeInstanceOf(FunctionTimeoutError);
    expect(fn.inFlight).toBe(1); // timed out, but its handler still runs
    endings[0]();
    for (let turn = 0; turn < 100 && fn.inFlight > 0; turn++) await new Promise((r) => setImmediate(r));
    expect(fn.inFlight).toBe(0);
    expect(fn.containers).toHaveLength(0); // a timed-out container is not reused
    await expect(fn.invoke({})).rejects.toThrow(/Task timed out after 0.02 seconds/);
    expect(made).toBe(2);
    endings[1]();
  });

  it('frees the slot of a timed-out invocation at once when its container can be stopped, as Lambda kills the sandbox', async () => {
    const endings: (() => void)[] = [];
    let stopped = 0;
    const fn = new LocalFunction({
      name: 'killed',
      timeoutMs: 20,
      reservedConcurrency: 1,
      container: () => ({
        handler: () => new Promise<void>((resolve) => endings.push(resolve)),
        timedOut: () => {
          stopped++;
        },
      }),
    });
    await expect(fn.invoke({})).rejects.toBeInstanceOf(FunctionTimeoutError);
    expect(stopped).toBe(1);
    // Its handler has not ended, yet the slot is free: the retry is not throttled behind a killed sandbox.
    expect(fn.inFlight).toBe(0);
    expect(fn.containers).toHaveLength(0);
    await expect(fn.invoke({})).rejects.toBeInstanceOf(FunctionTimeoutError);
    expect(fn.stats).toMatchObject({ invocations: 2, throttles: 0, peakInFlight: 1 });
    // The killed handler ending late changes nothing (no second release).
    endings[0]();
    endings[1]();
    for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
    expect(fn.inFlight).toBe(0);
  });

  it('runs a container init once, on its cold start, outside the invocation timeout', async () => {
    let inits = 0;
    const fn = new LocalFunction({
      name: 'cold',
      timeoutMs: 30,
      container: () => ({
        init: async () => {
          inits++;
          await sleep(60);
        },
        handler: () => 'warm',
      }),
    });
    await expect(fn.invoke({})).resolves.toBe('warm');
    await expect(fn.invoke({})).resolves.toBe('warm');
    expect(inits).toBe(1);
    expect(fn.stats).toMatchObject({ coldStarts: 1, invocations: 2, errors: 0 });
  });

  it('refuses bad options, naming them', () => {
    expect(() => new LocalFunction({ name: '', timeoutMs: 1, handler: () => 1 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new LocalFunction({ name: 'x', timeoutMs: 1 })).toThrow(/`handler`/);
    expect(() => new LocalFunction({ name: 'x', timeoutMs: 0, handler: () => 1 })).toThrow(/`timeoutMs`/);
    expect(
      () => new LocalFunction({ name: 'x', timeoutMs: 1, handler: () => 1, reservedConcurrency: 0 }),
    ).toThrow(/`reservedConcurrency`/);
  });

  it('hurry(): running and later invocations see no time left, as at their deadline', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const running0 = new Promise<void>((resolve) => {
      started = resolve;
    });
    const fn = new LocalFunction({
      name: 'hurried',
      timeoutMs: 60_000,
      handler: async (wait: boolean, context) => {
        const before = context.getRemainingTimeInMillis();
        if (wait) {
          started();
          await gate;
        }
        return [before > 0, context.getRemainingTimeInMillis()];
      },
    });
    const running = fn.invoke(true);
    await running0;
    fn.hurry();
    release();
    expect(await running).toEqual([true, 0]);
    expect(await fn.invoke(false)).toEqual([false, 0]);
  });
});
