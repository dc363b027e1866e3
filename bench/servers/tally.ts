/**
 * Counters of open sockets and requests in flight, with their peaks, updated synchronously on every socket
 * and request event by the counting server and proxy. One tally shared by several servers counts their sum.
 */
/** Counters updated synchronously on every socket and request event. */
export class Tally {
  sockets = 0;
  peakSockets = 0;
  inFlight = 0;
  peakInFlight = 0;
  /** Sockets accepted in all. */
  connections = 0;
  /** Requests received in all. */
  requests = 0;

  socketOpened(): void {
    this.connections++;
    if (++this.sockets > this.peakSockets) this.peakSockets = this.sockets;
  }
  socketClosed(): void {
    this.sockets--;
  }
  requestStarted(): void {
    this.requests++;
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
  }
  requestEnded(): void {
    this.inFlight--;
  }
  /** Peaks and totals back to the current state (open sockets stay counted). */
  reset(): void {
    this.peakSockets = this.sockets;
    this.peakInFlight = this.inFlight;
    this.connections = 0;
    this.requests = 0;
  }
}

export function createTally(): Tally {
  return new Tally();
}
