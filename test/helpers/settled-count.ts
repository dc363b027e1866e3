// For tests on a fake clock with real sockets: time stands still while requests travel, so after each step
// of the clock the test waits for the requests the step let go to land, then reads the count.

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The count once it has reached `atLeast` (or 5 s passed), and then held still for 20 ms: requests let go
 * of by mistake would land in that time, so a count above `atLeast` shows.
 */
export async function settledCount(count: () => number, atLeast: number): Promise<number> {
  for (let i = 0; i < 2_500 && count() < atLeast; i++) await pause(2);
  let seen = -1;
  while (seen !== count()) {
    seen = count();
    await pause(20);
  }
  return seen;
}

/**
 * The count after each step of `stepMs` on `clock` (none before the first reading), settled as above: one
 * reading per entry of `expected`, so a test compares the two lists whole.
 */
export async function countsByStep(
  clock: { advance(ms: number): void },
  count: () => number,
  expected: readonly number[],
  stepMs: number,
): Promise<number[]> {
  const seen: number[] = [];
  for (const [i, n] of expected.entries()) {
    if (i > 0) clock.advance(stepMs);
    seen.push(await settledCount(count, n));
  }
  return seen;
}
