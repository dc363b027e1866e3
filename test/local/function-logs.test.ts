import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { FunctionLogs } from '../../local/function-logs.js';

let logs: FunctionLogs | undefined;
afterEach(() => logs?.stop());

describe('FunctionLogs', () => {
  it("sums Powertools' EMF metrics by service, keeps peaks as maxima, and keeps error lines", () => {
    const seen: string[] = [];
    logs = new FunctionLogs((line) => seen.push(line)).start();
    const metrics = new Metrics({ namespace: 'Test', serviceName: 'worker' });
    const logger = new Logger({ serviceName: 'worker' });
    for (const [ok, peak] of [
      [3, 2],
      [4, 5],
    ]) {
      metrics.addMetric('TasksSucceeded', MetricUnit.Count, ok);
      metrics.addMetric('PeakInFlight', MetricUnit.Count, peak);
      metrics.publishStoredMetrics();
    }
    logger.error('something broke', { id: 'x' });
    logger.info('batch done');
    process.stdout.write('plain text passes through\n');
    process.stdout.write('{"not":"a function record"}\n');
    logs.stop();

    expect(logs.metric('worker', 'TasksSucceeded')).toBe(7);
    expect(logs.metric('worker', 'PeakInFlight')).toBe(5);
    expect(logs.metric('orchestrator', 'TasksSucceeded')).toBe(0);
    expect(logs.hasMetric('worker', 'TasksSucceeded')).toBe(true);
    expect(logs.errors).toHaveLength(1);
    expect(JSON.parse(logs.errors[0])).toMatchObject({ level: 'ERROR', message: 'something broke', id: 'x' });
    // Two EMF lines and two log lines were taken; the other writes were not.
    expect(logs.lines).toBe(4);
    expect(seen).toHaveLength(4);
  });

  it('writes each line once when the sink itself writes to stderr (serve --verbose)', () => {
    const written: string[] = [];
    const original = process.stderr.write;
    // Stands for the terminal: what gets past FunctionLogs to the stream.
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      logs = new FunctionLogs((line) => process.stderr.write(`${line}\n`)).start();
      const logger = new Logger({ serviceName: 'worker' });
      logger.error('something broke');
      logs.stop();
    } finally {
      process.stderr.write = original;
    }
    expect(logs.lines).toBe(1);
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0])).toMatchObject({ level: 'ERROR', message: 'something broke' });
  });

  it('puts stdout and stderr back when stopped', () => {
    const before = [process.stdout.write, process.stderr.write];
    logs = new FunctionLogs().start();
    expect(process.stdout.write).not.toBe(before[0]);
    logs.stop();
    expect([process.stdout.write, process.stderr.write]).toEqual(before);
  });
});
