// The function an invocation belongs to, for everything it does asynchronously: LocalFunction runs each
// handler inside this store, so an observer of the process (the HTTP observer) can tell whose work it sees.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface InvocationScope {
  readonly functionName: string;
}

export const invocationScope = new AsyncLocalStorage<InvocationScope>();
