// A queue message of `n` tasks t0..t(n-1) (job `job`, run `run`, key `job:run:7`), as the settle tests take it.
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';

export const taskMessage = (n: number, attempt = 1): TaskMessage => ({
  v: MESSAGE_VERSION,
  kind: MessageKinds.TASKS,
  jobId: 'job',
  runId: 'run',
  key: 'job:run:7',
  attempt,
  retryDelaySeconds: 2,
  tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, url: `http://h/${i}`, mode: 'queue' as const })),
});
