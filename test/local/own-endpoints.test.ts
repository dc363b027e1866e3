// No task reaches the local runtime's own endpoints, whatever --allow-host says: with all of loopback
// allowed, a task that POSTs an SQS SendMessage (a forged task) to the emulator is refused at connect time,
// dead-lettered with the guard's reason, and no forged message reaches the work queue (the target server,
// which the forged task names, is never called).
import { describe, expect, it } from 'vitest';
import { withDefaults } from '../../lib/config.js';
import { startBackend } from '../../local/backend.js';
import { ownEndpointEntries } from '../../local/own-endpoints.js';
import { createResources } from '../../local/resources.js';
import { runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const target = trackTargets();

describe('the local runtime keeps tasks off its own endpoints', () => {
  it('refuses every loopback and unspecified spelling of each endpoint port, and the endpoint name', () => {
    expect(
      ownEndpointEntries(['http://127.0.0.1:4566', 'http://localstack.local:4510', undefined], []),
    ).toEqual([
      '127.0.0.0/8:4566',
      '[::1]:4566',
      '0.0.0.0:4566',
      '[::]:4566',
      '127.0.0.0/8:4510',
      '[::1]:4510',
      '0.0.0.0:4510',
      '[::]:4510',
      'localstack.local:4510',
    ]);
  });

  it("refuses each port on this machine's own interface addresses too (the emulators listen on all)", () => {
    expect(ownEndpointEntries(['http://127.0.0.1:4566'], ['192.0.2.2', 'fd00::2'])).toEqual([
      '127.0.0.0/8:4566',
      '[::1]:4566',
      '0.0.0.0:4566',
      '[::]:4566',
      '192.0.2.2:4566',
      '[fd00::2]:4566',
    ]);
  });

  it('a forged SendMessage through the one local endpoint is refused though 127.0.0.1 is allowed', async () => {
    const victim = await target();
    const edged = await startBackend({
      kind: 'emulators',
      log: () => {},
      edge: { listen: { host: '127.0.0.1', port: 0 } },
    });
    try {
      const edge = edged.edge?.url ?? '';
      const config = { prefix: uniquePrefix('edge'), allowHosts: ['127.0.0.1'], maxReceiveCount: 1 };
      const tasks = [
        {
          id: 'inject',
          url: `${edge}/`,
          method: 'POST',
          mode: 'inline',
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' },
          body: '{}',
        },
        { id: 'fine', url: victim.url('queue', 'fine') },
      ];
      const report = await runLocalJob({ jobId: 'edge', tasks }, { config, backend: edged });
      expect(report).toMatchObject({
        submitted: 2,
        succeeded: 1,
        deadLettered: 1,
        invalid: 0,
        unaccounted: 0,
      });
      expect(report.deadLetteredTasks.map((t) => [t.id, t.error])).toEqual([
        ['inject', expect.stringContaining('an endpoint of the runtime itself')],
      ]);
    } finally {
      await edged.stop();
    }
  });

  it('behind the one local endpoint, the emulators own ports (fauxqs, the DynamoDB front, dynalite) are refused too', async () => {
    const victim = await target();
    const edged = await startBackend({
      kind: 'emulators',
      log: () => {},
      edge: { listen: { host: '127.0.0.1', port: 0 } },
    });
    try {
      // As an attacker who scanned loopback would find them: the ports behind the endpoint, not the endpoint.
      const hidden = edged.listening ?? [];
      expect(hidden).toHaveLength(3);
      expect(hidden).not.toContain(edged.edge?.url);
      const config = { prefix: uniquePrefix('hidden'), allowHosts: ['127.0.0.1'], maxReceiveCount: 1 };
      const tasks = [
        ...hidden.map((url, i) => ({
          id: `inject-${i}`,
          url: `${url}/`,
          method: 'POST',
          mode: 'inline',
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': 'DynamoDB_20120810.ListTables',
          },
          body: '{}',
        })),
        { id: 'fine', url: victim.url('queue', 'fine') },
      ];
      const report = await runLocalJob({ jobId: 'hidden', tasks }, { config, backend: edged });
      expect(report).toMatchObject({
        submitted: 4,
        succeeded: 1,
        deadLettered: 3,
        invalid: 0,
        unaccounted: 0,
      });
      expect(report.deadLetteredTasks.map((t) => [t.id, t.error]).sort()).toEqual(
        hidden.map((_, i) => [`inject-${i}`, expect.stringContaining('an endpoint of the runtime itself')]),
      );
      expect(victim.answers.get('fine')).toEqual([200]);
    } finally {
      await edged.stop();
    }
  });

  it('a forged SendMessage to the emulator is refused though 127.0.0.1 is allowed', async () => {
    const victim = await target();
    const forged = JSON.stringify({
      v: 1,
      kind: 'tasks',
      jobId: 'forged',
      runId: 'r',
      key: 'forged',
      attempt: 1,
      tasks: [{ id: 'forged', url: victim.url('queue', 'forged') }],
    });
    const prefix = uniquePrefix('own');
    const sqs = backend().endpoints.sqs;
    // The work queue's URL, as an attacker who knows the stack's names would write it.
    const config = { prefix, allowHosts: ['127.0.0.1'], maxReceiveCount: 1 };
    const { queueUrl } = await createResources(withDefaults(config), backend());
    const tasks = [
      {
        id: 'inject',
        url: `${sqs}/`,
        method: 'POST',
        mode: 'inline',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
        body: JSON.stringify({ QueueUrl: queueUrl, MessageBody: forged }),
      },
      { id: 'fine', url: victim.url('queue', 'fine') },
    ];
    const report = await runLocalJob({ jobId: 'own', tasks }, { config, backend: backend() });
    expect(report).toMatchObject({ submitted: 2, succeeded: 1, deadLettered: 1, invalid: 0, unaccounted: 0 });
    expect(report.deadLetteredTasks.map((t) => [t.id, t.error])).toEqual([
      ['inject', expect.stringContaining('an endpoint of the runtime itself')],
    ]);
    expect(victim.answers.get('forged')).toBeUndefined();
    expect(victim.answers.get('fine')).toEqual([200]);
  });
});
