// Reading a run's result lines back (for `report --job`), against real S3 (the test backend): while the run is
// live, the parts its writers left, in the order the result object will hold them (of a segment's copies, the
// winner's only); once it ended, the result
// object (summary first), then the undeliverable lines of the parts a redrive wrote (the object lacks those
// written after it), and no other part, so the run's own lines are never read twice; lines that are not JSON objects are counted and
// skipped; lines split across S3 chunks come back whole.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openResultLines, parseS3Uri } from '../../../lib/aws/result-reader.js';
import { putResultPart, ResultWriter } from '../../../lib/aws/results.js';
import { redriveKeyPrefix } from '../../../lib/fanout/messages.js';
import { localCredentials } from '../../../local/resources.js';
import { backend, freshResources } from '../../local/fixtures/aws.js';

let s3: S3Client;
let bucket: string;

beforeAll(async () => {
  const { resources, sqs } = await freshResources('result-reader');
  sqs.destroy();
  bucket = resources.bucket;
  const { endpoints, region } = backend();
  s3 = new S3Client({ endpoint: endpoints.s3, region, credentials: localCredentials, forcePathStyle: true });
});

afterAll(() => s3?.destroy());

async function collect(lines: AsyncIterable<Record<string, unknown>>) {
  const out: Record<string, unknown>[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

const at = (runId: string) => ({ bucket, prefix: 'results/', jobId: 'j', runId });
const redriveMessageKey = (id: string) => `${redriveKeyPrefix('j', 'redriven')}${id}`;

describe('openResultLines', () => {
  it('reads the parts of a live run, then only the result object once it is written', async () => {
    const writer = new ResultWriter(s3, { bucket, jobId: 'j', runId: 'live', segment: 0, partBytes: 64 });
    for (let i = 0; i < 5; i++)
      writer.add({ type: 'dead-letter', task: { id: `o${i}` }, attempts: 1, error: 'e' });
    await writer.flush();
    await putResultPart(s3, { ...at('live'), name: 'msg-1' }, [
      { type: 'dead-letter', task: { id: 'w1' }, attempts: 3, error: 'e' },
    ]);

    const live = await openResultLines(s3, at('live'));
    expect(live.kind).toBe('parts');
    const liveIds = (await collect(live.lines)).map((l) => (l.task as { id: string }).id);
    expect(liveIds).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'w1']);

    await writer.finish({ jobId: 'j', runId: 'live', status: 'partial' });
    const ended = await openResultLines(s3, at('live'));
    expect(ended.kind).toBe('object');
    expect(ended.keys).toEqual(['results/j/live.ndjson']);
    const lines = await collect(ended.lines);
    expect(lines[0]).toEqual({ type: 'summary', jobId: 'j', runId: 'live', status: 'partial' });
    // Each line once: the object holds the parts; they are not read again beside it.
    expect(lines.slice(1).map((l) => (l.task as { id: string }).id)).toEqual(liveIds);
  });

  it('after the result object, reads the undeliverable lines of the parts a redrive wrote, and no other part', async () => {
    const writer = new ResultWriter(s3, { bucket, jobId: 'j', runId: 'redriven', segment: 0 });
    writer.add({ type: 'dead-letter', task: { id: 'a' }, attempts: 1, error: 'first' });
    await putResultPart(s3, { ...at('redriven'), name: 'j:redriven:0' }, [
      { type: 'dead-letter', task: { id: 'b' }, attempts: 1, error: 'first' },
    ]);
    await writer.finish({ jobId: 'j', runId: 'redriven', status: 'partial' });
    // A redrive, later: one message (a follow-up's key extends its key) ends `b` undeliverable, another
    // dead-letters `a` anew; a late part of no redrive is not read.
    await putResultPart(s3, { ...at('redriven'), name: redriveMessageKey('m2#2') }, [
      { type: 'undeliverable', task: { id: 'b' }, attempts: 1, error: 'again', sendError: 'too big' },
    ]);
    await putResultPart(s3, { ...at('redriven'), name: redriveMessageKey('m1') }, [
      { type: 'dead-letter', task: { id: 'a' }, attempts: 1, error: 'again' },
    ]);
    await putResultPart(s3, { ...at('redriven'), name: 'j:redriven:9' }, [
      { type: 'dead-letter', task: { id: 'c' }, attempts: 1, error: 'late' },
    ]);
    const ended = await openResultLines(s3, at('redriven'));
    expect(ended.kind).toBe('object');
    expect(ended.keys).toEqual([
      'results/j/redriven.ndjson',
      `results/j/redriven/part-w-${encodeURIComponent(redriveMessageKey('m1'))}.ndjson`,
      `results/j/redriven/part-w-${encodeURIComponent(redriveMessageKey('m2#2'))}.ndjson`,
    ]);
    const lines = (await collect(ended.lines)).slice(1);
    expect(lines.map((l) => [l.type, (l.task as { id: string }).id, l.error])).toEqual([
      ['dead-letter', 'a', 'first'],
      ['dead-letter', 'b', 'first'],
      ['undeliverable', 'b', 'again'],
    ]);
  });

  // A retried orchestrator invocation runs a segment twice; only the copy whose settle counted is the run's
  // (lib/aws/result-parts.ts), and its lines alone go into the result object. A live run's parts are read
  // the same way: a loser's dead letter may be of a task the winner ran to success.
  it("reads a live run's segment parts of the winning copy only, all copies of a segment not settled yet", async () => {
    const copyWriter = (segment: number, copy: string) =>
      new ResultWriter(s3, { bucket, jobId: 'j', runId: 'copies', segment, copy, partBytes: 64 });
    const write = async (segment: number, copy: string, id: string) => {
      const writer = copyWriter(segment, copy);
      writer.add({ type: 'dead-letter', task: { id }, attempts: 1, error: `from ${copy}` });
      await writer.flush();
    };
    await write(0, 'aaaa', 'lost-0');
    await write(0, 'bbbb', 'won-0');
    await write(1, 'cccc', 'open-1a');
    await write(1, 'dddd', 'open-1b');
    const winnerOf = async (segment: number) => (segment === 0 ? 'bbbb' : undefined);
    const live = await openResultLines(s3, at('copies'), { winnerOf });
    expect(live.kind).toBe('parts');
    const ids = (await collect(live.lines)).map((l) => (l.task as { id: string }).id);
    expect(ids).toEqual(['won-0', 'open-1a', 'open-1b']);
  });

  it('skips and counts lines that are not JSON objects, and joins lines across chunks', async () => {
    const long = 'x'.repeat(200_000);
    const body = `${JSON.stringify({ type: 'invalid', id: 'a', error: long })}\nnot json\n[1,2]\n\n${JSON.stringify({ type: 'invalid', id: 'b', error: 'e' })}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'results/j/odd.ndjson', Body: body }));
    const result = await openResultLines(s3, at('odd'));
    const lines = await collect(result.lines);
    expect(lines.map((l) => l.id)).toEqual(['a', 'b']);
    expect((lines[0].error as string).length).toBe(200_000);
    expect(result.skipped()).toBe(2);
  });

  it('finds nothing for a run that wrote nothing', async () => {
    const none = await openResultLines(s3, at('none'));
    expect(none).toMatchObject({ kind: 'parts', keys: [] });
    expect(await collect(none.lines)).toEqual([]);
  });
});

describe('parseS3Uri', () => {
  it('splits s3://bucket/key and refuses anything else', () => {
    expect(parseS3Uri('s3://b/results/j/r.ndjson')).toEqual({ bucket: 'b', key: 'results/j/r.ndjson' });
    expect(parseS3Uri('s3://b/')).toBeUndefined();
    expect(parseS3Uri('https://b/k')).toBeUndefined();
  });
});
