// The function an invocation belongs to, for everything it does asynchronously: a container thread runs each
// invocation inside this store, so its observer counts only the function's own requests (container-thread.ts).
// In-process containers do not use it: their task dispatcher names the function instead (http-observer.ts), as
// on Node 20 a store makes node run a hook for every promise of the process.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface InvocationScope {
  readonly functionName: string;
}

export const invocationScope = new AsyncLocalStorage<InvocationScope>();
