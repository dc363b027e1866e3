// How many runs each fast-check property makes. CI uses the default (1,000, as the issues ask);
// FC_RUNS lowers it for a quick local loop, never below 1.
export const RUNS = Math.max(1, Number(process.env.FC_RUNS ?? 1000));

/** Collects unhandled rejections while `fn` runs, so a test can assert none escaped. */
export async function collectUnhandled(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    // Unhandled rejections are reported after the microtask queue drains: give them a turn.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}
