// A local stand-in for EventBridge's default bus: it answers `AWSEvents.PutEvents` (the JSON protocol the
// @aws-sdk/client-eventbridge client speaks), keeps the last `maxEvents` events in memory for tests and the
// CLI, and hands each one to the runtime's subscribers. No rules, no targets: the functions' `Run Finished`
// event is what the local runtime needs to see; where users route it is the cloud's business.
import { randomUUID } from 'node:crypto';
import { assertInteger, BoundedFanoutError, ErrorCodes } from '../lib/errors.js';

/** EventBridge's PutEvents limits: 10 entries per call, 256 KiB per request (entries summed). */
export const MAX_PUT_EVENTS_ENTRIES = 10;
export const MAX_PUT_EVENTS_BYTES = 256 * 1024;
export const DEFAULT_BUS_NAME = 'default';
const LOCAL_ACCOUNT = '000000000000';

/** An event as EventBridge delivers it to a target (detail parsed), plus the bus it was put on. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
  readonly eventBusName: string;
}

export interface PutEventsEntry {
  readonly Source?: unknown;
  readonly DetailType?: unknown;
  readonly Detail?: unknown;
  readonly Resources?: unknown;
  readonly Time?: unknown;
  readonly EventBusName?: unknown;
}

export type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export interface PutEventsOutput {
  readonly FailedEntryCount: number;
  readonly Entries: PutEventsResultEntry[];
}

/** A request the whole call is refused for (400 with this `__type`), as EventBridge does. */
export class EventBusRequestError extends BoundedFanoutError {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message, ErrorCodes.EVENT_BUS_REQUEST);
    this.name = 'EventBusRequestError';
    this.type = type;
  }
}

export interface EventBusOptions {
  /** Events kept for `events` (the oldest go first). 1,000 by default. */
  readonly maxEvents?: number;
  readonly region?: string;
  /** Clock of the events' `time` when an entry gives none (tests inject one). */
  readonly now?: () => Date;
}

export type EventListener = (event: BusEvent) => void;

export class EventBus {
  readonly #max: number;
  readonly #region: string;
  readonly #now: () => Date;
  readonly #events: BusEvent[] = [];
  readonly #listeners = new Set<EventListener>();
  #total = 0;

  constructor({ maxEvents = 1000, region = 'us-east-1', now = () => new Date() }: EventBusOptions = {}) {
    this.#max = assertInteger('maxEvents', maxEvents, { min: 1 });
    this.#region = region;
    this.#now = now;
  }

  /** The last `maxEvents` events put, oldest first. */
  get events(): readonly BusEvent[] {
    return this.#events;
  }

  /** Every event accepted since the start, including those no longer kept. */
  get totalEvents(): number {
    return this.#total;
  }

  /** Calls `listener` with each event accepted from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** PutEvents: each entry is accepted or refused on its own; a malformed call as a whole throws. */
  putEvents(input: unknown): PutEventsOutput {
    const entries = (input as { Entries?: unknown } | null)?.Entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_PUT_EVENTS_ENTRIES) {
      throw new EventBusRequestError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_PUT_EVENTS_ENTRIES}`,
      );
    }
    const results = entries.map((entry) => this.#put((entry ?? {}) as PutEventsEntry));
    return {
      FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
      Entries: results,
    };
  }

  #put(entry: PutEventsEntry): PutEventsResultEntry {
    for (const field of ['Source', 'DetailType', 'Detail'] as const) {
      if (typeof entry[field] !== 'string' || entry[field] === '') {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      detail = undefined;
    }
    if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const event: BusEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType as string,
      source: entry.Source as string,
      account: LOCAL_ACCOUNT,
      time: timeOf(entry.Time, this.#now),
      region: this.#region,
      resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
      detail,
      eventBusName: typeof entry.EventBusName === 'string' ? entry.EventBusName : DEFAULT_BUS_NAME,
    };
    this.#events.push(event);
    if (this.#events.length > this.#max) this.#events.splice(0, this.#events.length - this.#max);
    this.#total++;
    for (const listener of this.#listeners) {
      // A subscriber's failure is its own: the event is accepted either way, as the cloud's bus would.
      try {
        listener(event);
      } catch {}
    }
    return { EventId: event.id };
  }
}

/** The entry's Time (the SDK sends epoch seconds), else now; seconds precision as EventBridge keeps it. */
function timeOf(raw: unknown, now: () => Date): string {
  const date = typeof raw === 'number' ? new Date(raw * 1000) : now();
  return `${date.toISOString().slice(0, 19)}Z`;
}
