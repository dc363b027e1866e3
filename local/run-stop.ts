// How a local run stops. A first stop (Ctrl-C) takes no new work and lets running invocations finish; a cut-off
// (a second Ctrl-C) lets go of the running worker invocations at once (the orchestrator's is waited for: its
// counts are known only when it returns). Either way the orchestrator's continuation is kept rather than
// run, and the manifest's unread tasks are read from where it would have gone on (local/manifest-tail.ts).
import type { BackendInfo } from './backend.js';
import type { InvokeServer } from './invoke-server.js';
import { heldContinuation, type ManifestTail, readManifestTail } from './manifest-tail.js';

/** Calls `fn` once when `signal` aborts (at once if it has), until the run's cleanups run. */
export function listen(signal: AbortSignal | undefined, fn: () => void, cleanups: (() => unknown)[]): void {
  if (!signal) return;
  if (signal.aborted) {
    fn();
    return;
  }
  signal.addEventListener('abort', fn, { once: true });
  cleanups.push(() => signal.removeEventListener('abort', fn));
}

/** Whether the run was cut off, and a race of some wait against the cut-off. */
export function cutOffWhen(signal: AbortSignal | undefined) {
  const state = { done: signal?.aborted === true };
  const aborted = new Promise<void>((resolve) => {
    if (!signal || signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  return {
    get done() {
      return state.done || signal?.aborted === true;
    },
    /** `work`'s result, or `onCut()` when the run is cut off first. */
    async race<T, U>(work: Promise<T>, onCut: () => U): Promise<T | U> {
      if (!signal) return work;
      const cut = Symbol('cut');
      const winner = await Promise.race([work, aborted.then(() => cut)]);
      if (winner !== cut) return winner as T;
      state.done = true;
      return onCut();
    },
  };
}

/** The manifest's unread tasks, when the orchestrator's continuation was kept (the run stopped mid-job). */
export async function manifestTail(
  backend: BackendInfo,
  invokeServer: InvokeServer,
  orchestratorName: string,
): Promise<ManifestTail | undefined> {
  const held = invokeServer.heldEvents.find((e) => e.functionName === orchestratorName);
  const continuation = held ? heldContinuation(held.payload) : undefined;
  return continuation ? readManifestTail(backend, continuation) : undefined;
}
