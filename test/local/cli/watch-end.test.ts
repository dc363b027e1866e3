// `status --watch` from a second process against a real `bounded-fanout run`, whose endpoint goes away with the
// process when its job ends. A gate proxy between the watcher and the run holds every request the watcher sends
// after the test lets the job end, until the run has either exited or said it keeps its endpoint open: so the
// watcher's next read lands after the end, deterministically, wherever its 2 s polls fall. (The run waits for a
// client that read in the 5 s before its job ended: the gate closes right after a read was answered, and the
// held tasks end well within that of their release.)

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, startCli } from './cli-process.js';
import { type GateProxy, startGateProxy } from './gate-proxy.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';
import { writeManifest } from './run-fixture.js';

const TASKS = 3;
let dir: string;
const runs: CliRun[] = [];
let proxy: GateProxy | undefined;

let target: HeldTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-watch-end-'));
  target = await startHeldTarget();
});

afterAll(async () => {
  for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
  await proxy?.stop();
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A run of TASKS tasks at the held target, once its endpoint is printed and every task is held there. */
async function startHeldRun(jobId: string): Promise<{ run: CliRun; endpoint: string }> {
  target.hold();
  const manifest = join(dir, `${jobId}.ndjson`);
  const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `t${i}`, url: `${target.url}/t${i}` }));
  await writeManifest(manifest, [{ jobId, runId: 'r1' }, ...tasks]);
  const run = startCli([
    'run',
    '--manifest',
    manifest,
    '--allow-host',
    '127.0.0.1',
    '--listen',
    '127.0.0.1:0',
  ]);
  runs.push(run);
  await run.waitFor(/\[bounded-fanout\] endpoint: http:\/\/127\.0\.0\.1:\d+/);
  const endpoint = /\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output().stderr)![1];
  await heldReach(target, TASKS);
  return { run, endpoint };
}

function startWatcher(endpoint: string, jobId: string): CliRun {
  const watcher = startCli([
    'status',
    '--watch',
    '--job',
    jobId,
    '--run',
    'r1',
    '--format',
    'json',
    '--endpoint',
    endpoint,
  ]);
  runs.push(watcher);
  return watcher;
}

const records = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('status --watch against a local run that ends', () => {
  it("prints the run's end and exits with its code, though its next read comes after the job ended", async () => {
    const { run, endpoint } = await startHeldRun('watched');
    proxy = await startGateProxy(endpoint);
    const watcher = startWatcher(proxy.url, 'watched');
    // Its second read has just been answered: the job now has the run's whole window (5 s) from that read to
    // end in, on a loaded machine too. From here, the watcher's reads wait at the gate; the job ends.
    await watcher.waitFor(/"status":"running"[\s\S]*"status":"running"/);
    proxy.close();
    target.release();
    await Promise.race([run.done, run.waitFor(/endpoint stays open/)]);
    proxy.open();
    const watched = await watcher.done;
    const ran = await run.done;
    expect(ran.code).toBe(0);
    expect({ code: watched.code, stderr: watched.stderr }).toEqual({ code: 0, stderr: '' });
    const seen = records(watched.stdout);
    expect(seen[0]).toMatchObject({ status: 'running', submitted: TASKS });
    expect(seen.at(-1)).toMatchObject({ status: 'succeeded', submitted: TASKS, succeeded: TASKS });
  }, 120_000);

  it("Ctrl-C during the wait ends it: the run exits with its job's code, saying so (not that it stops taking work)", async () => {
    const { run, endpoint } = await startHeldRun('hurried');
    const gate = await startGateProxy(endpoint);
    try {
      const watcher = startWatcher(gate.url, 'hurried');
      await watcher.waitFor(/"status":"running"[\s\S]*"status":"running"/);
      gate.close(); // the watcher's next read waits at the gate: the run waits for it
      target.release();
      await run.waitFor(/endpoint stays open/);
      run.child.kill('SIGINT');
      const ran = await run.done;
      gate.open();
      const watched = await watcher.done;
      expect(ran.code).toBe(0);
      const afterWait = ran.stderr.slice(ran.stderr.indexOf('endpoint stays open'));
      expect(afterWait.split('\n').slice(1)).toEqual([
        '[bounded-fanout] Ctrl-C: the job has ended; the endpoint closes now, waiting for no reader',
        '',
      ]);
      expect(watched.code).toBe(4);
    } finally {
      await gate.stop();
    }
  }, 120_000);

  it('says the endpoint went away before the end was seen, exit 4, when the run is killed while watched', async () => {
    const { run, endpoint } = await startHeldRun('killed');
    const watcher = startWatcher(endpoint, 'killed');
    await watcher.waitFor(/"status":"running"/);
    run.child.kill('SIGKILL');
    await run.done;
    const watched = await watcher.done;
    expect(watched.code).toBe(4);
    expect(records(watched.stdout)).toEqual([
      expect.objectContaining({ status: 'running', submitted: TASKS }),
    ]);
    expect(watched.stderr).toBe(
      `bounded-fanout: the endpoint ${endpoint} went away before run r1 of job killed was seen to end: last seen running, 0 of ${TASKS} tasks ended. A local \`run\` serves its endpoint only while it runs: it has exited (its own summary has the outcome) or was stopped.\n`,
    );
  }, 120_000);
});
