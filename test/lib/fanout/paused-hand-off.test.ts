import { describe, expect, it } from 'vitest';
import { pausedPacket } from '../../../lib/fanout/invoke-chunk.js';
import {
  MESSAGE_VERSION,
  MessageKinds,
  parseTaskMessage,
  type TaskMessage,
} from '../../../lib/fanout/messages.js';

// A paused chunk's hand-off (lib/fanout/invoke-chunk.ts pausedPacket): two copies of a segment may hand back
// different tasks of one chunk, so each copy's goes under a key of its own and carries the copy, for the worker
// to run only the winner's (functions/segment-copies.ts).

const chunk: TaskMessage = {
  v: MESSAGE_VERSION,
  kind: MessageKinds.TASKS,
  jobId: 'job',
  runId: 'run',
  key: 'job:run:7',
  attempt: 1,
  tasks: [
    { id: 'a', url: 'http://h/a', mode: 'invoke' },
    { id: 'b', url: 'http://h/b', mode: 'invoke' },
  ],
};
const paused = (id: string) => ({
  task: chunk.tasks.find((t) => t.id === id)!,
  outcome: { id, ok: false, attempts: 0, unstarted: true, paused: true },
});
const ran = (id: string) => ({
  task: chunk.tasks.find((t) => t.id === id)!,
  outcome: { id, ok: true, attempts: 1 },
});

const bodyOf = (packet: ReturnType<typeof pausedPacket>) => {
  const parsed = parseTaskMessage(packet!.entry.MessageBody);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
};

describe('a paused chunk’s hand-off', () => {
  it('is keyed by the copy that handed it back, and carries it', () => {
    const a = bodyOf(pausedPacket(chunk, [paused('a'), paused('b')], { segment: 2, id: 'aaaa' }));
    const b = bodyOf(pausedPacket(chunk, [ran('a'), paused('b')], { segment: 2, id: 'bbbb' }));
    expect([a.key, a.tasks.map((t) => t.id), a.copy]).toEqual([
      'job:run:7@aaaa~1',
      ['a', 'b'],
      { segment: 2, id: 'aaaa' },
    ]);
    expect([b.key, b.tasks.map((t) => t.id), b.copy]).toEqual([
      'job:run:7@bbbb~1',
      ['b'],
      { segment: 2, id: 'bbbb' },
    ]);
  });

  it('without a copy keeps the key it always had', () => {
    const body = bodyOf(pausedPacket(chunk, [ran('a'), paused('b')]));
    expect([body.key, body.copy]).toEqual(['job:run:7~1', undefined]);
  });
});
