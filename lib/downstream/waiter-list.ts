/*
An intrusive doubly linked FIFO: the waiters carry their own links, so appending and taking any waiter out
(the oldest when it is admitted, any one when it is cancelled) cost O(1) and no allocation, and a cancelled
waiter leaves the line at once instead of lingering until it reaches the head. Used by the per-key queues of
KeyedLimiter and the token buckets of RateLimiter.
*/

export interface ListedWaiter<W> {
  prev: W | undefined;
  next: W | undefined;
  /** True from append to remove: a waiter removed once is not removed again. */
  queued: boolean;
}

export interface WaiterList<W> {
  head: W | undefined;
  tail: W | undefined;
}

export function appendWaiter<W extends ListedWaiter<W>>(list: WaiterList<W>, waiter: W): void {
  waiter.queued = true;
  waiter.prev = list.tail;
  waiter.next = undefined;
  if (list.tail) list.tail.next = waiter;
  else list.head = waiter;
  list.tail = waiter;
}

export function removeWaiter<W extends ListedWaiter<W>>(list: WaiterList<W>, waiter: W): void {
  waiter.queued = false;
  if (waiter.prev) waiter.prev.next = waiter.next;
  else list.head = waiter.next;
  if (waiter.next) waiter.next.prev = waiter.prev;
  else list.tail = waiter.prev;
  waiter.prev = waiter.next = undefined;
}
