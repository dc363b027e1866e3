// Copies of one orchestrator segment that stop where a test says: an orchestrator in a container of its own with
// no idempotency table (a retried segment runs again, as after a timeout in AWS), whose DynamoDB and S3 calls
// wait at a gate until the test releases it. Shared by the tests of two copies of a segment.
import type { Dispatcher } from 'undici';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars } from '../../lib/config.js';
import type { Harness } from './harness.js';

/** A point a copy stops at until released: `reached` resolves when it gets there. */
export interface Gate {
  readonly reached: Promise<void>;
  release(): void;
  /** Whether a call (command name, input JSON) is the one held here; the first such call only. */
  readonly holds: (command: string, input: string) => boolean;
  arrive(): Promise<void>;
}

export function gate(holds: (command: string, input: string) => boolean): Gate {
  let reach = () => {};
  const reached = new Promise<void>((r) => {
    reach = r;
  });
  let release = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  let used = false;
  return {
    reached,
    release,
    holds: (command, input) => {
      if (used || !holds(command, input)) return false;
      used = true;
      return true;
    },
    arrive: () => {
      reach();
      return released;
    },
  };
}

/** Held at segment 0's settle (its transaction). */
export const atSettle = () => gate((cmd, input) => /TransactWrite/.test(cmd) && input.includes('segment:0'));
/** Held at the write of a result part. */
export const atPart = () => gate((cmd, input) => /PutObject/.test(cmd) && input.includes('/part-'));

/** Held before the request of the inline task whose URL path ends with `suffix` is sent. */
export const atTask = (suffix: string) => gate((cmd, path) => cmd === 'task' && path.endsWith(suffix));

/**
 * An orchestrator handler in a container of its own (kept in `runtimes` for the test to destroy), stopping at
 * each of `gates` until it is released: its AWS calls (command name, input JSON) and its tasks' requests
 * (`task`, the URL path).
 */
export async function orchestratorCopy(h: Harness, runtimes: FunctionRuntime[], ...gates: Gate[]) {
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  const rt = createRuntime({ ...h.env, [EnvVars.IDEMPOTENCY_TABLE]: '' });
  runtimes.push(rt);
  const hold =
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: { input: unknown }) => {
      const input = JSON.stringify(args.input);
      const at = gates.find((g) => g.holds(context.commandName ?? '', input));
      if (at) await at.arrive();
      return next(args);
    };
  rt.aws.dynamodb.middlewareStack.add(hold as never, { step: 'initialize', name: 'gateDynamo' });
  rt.aws.s3.middlewareStack.add(hold as never, { step: 'initialize', name: 'gateS3' });
  const heldTask: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (options, handler) => {
    const at = gates.find((g) => g.holds('task', String(options.path)));
    if (!at) return dispatch(options, handler);
    void at.arrive().then(() => dispatch(options, handler));
    return true;
  };
  const dispatcher = rt.taskOptions.dispatcher.compose(heldTask);
  const held = { ...rt, taskOptions: { ...rt.taskOptions, dispatcher } };
  return createOrchestratorHandler(() => held);
}
