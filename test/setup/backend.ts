// vitest global setup: picks the AWS backend once for the whole run (LocalStack where a container runtime
// answers, else the embedded emulators; BOUNDED_FANOUT_BACKEND forces one), prints which, and hands its
// endpoints to the test files through provide/inject. Test files isolate themselves with their own prefix.
import type { TestProject } from 'vitest/node';
import { type BackendInfo, startBackend } from '../../local/backend.js';

declare module 'vitest' {
  export interface ProvidedContext {
    backend: BackendInfo;
  }
}

export default async function setup(project: TestProject) {
  const backend = await startBackend();
  const { kind, endpoints, region, description } = backend;
  project.provide('backend', { kind, endpoints, region, description });
  return async () => {
    await backend.stop();
  };
}
