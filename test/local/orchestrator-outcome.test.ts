// The schedule's first invocation of the orchestrator in a local run (local/orchestrator-outcome.ts invokeFirst),
// through a real LocalFunction: its result, or its error as the text the rest of the code writes (errorText),
// also for a thrown value that is not an Error, and Lambda's on-failure report of it with its request id.
import { describe, expect, it } from 'vitest';
import { LocalFunction } from '../../local/local-function.js';
import { invokeFirst } from '../../local/orchestrator-outcome.js';

const fn = (handler: (event: unknown) => Promise<unknown>) =>
  new LocalFunction({ name: 'orchestrator', handler, timeoutMs: 5_000 });

describe('invokeFirst', () => {
  it('gives the result, and no failure report', async () => {
    const failed: string[] = [];
    const out = await invokeFirst(
      fn(async (e) => ({ got: e })),
      { jobId: 'j' },
      (_e, id) => failed.push(id),
    );
    expect(out.result).toEqual({ got: { jobId: 'j' } });
    expect(out.error).toBeUndefined();
    expect(failed).toEqual([]);
  });

  it('gives an Error as its name and message, and reports it under the invocation’s request id', async () => {
    const failed: [unknown, string][] = [];
    const out = await invokeFirst(
      fn(async () => {
        throw new TypeError('bad header');
      }),
      {},
      (e, id) => failed.push([e, id]),
    );
    expect(out.error).toBe('TypeError: bad header');
    expect(failed).toHaveLength(1);
    expect(failed[0][1]).toBe(out.requestId);
  });

  it('gives a thrown value that is not an Error as itself, not "undefined: ..."', async () => {
    const out = await invokeFirst(
      fn(async () => {
        throw 'the runtime exited';
      }),
      {},
    );
    expect(out.error).toBe('the runtime exited');
  });
});
