// The loopback server of bench/http.ts, in its own process so the clients measured do not share its event
// loop: the counting server of the tests (record off), answering "ok" at once. Over IPC: `reset` zeroes its
// tally, `stats` returns it.
import { startCountingServer } from './servers/counting-server.js';

const server = await startCountingServer({ record: false });
process.on('message', (msg: { cmd: 'reset' | 'stats' | 'stop'; id: number }) => {
  if (msg.cmd === 'reset') server.tally.reset();
  if (msg.cmd === 'stop') {
    void server.close().then(() => process.exit(0));
    return;
  }
  const { sockets, peakSockets, peakInFlight, requests, connections } = server.tally;
  process.send?.({ id: msg.id, stats: { sockets, peakSockets, peakInFlight, requests, connections } });
});
process.send?.({ ready: server.url });
