// The entry of a container thread: TypeScript through the CLI's module hooks (local/cli/ts-hooks.mjs), which a
// thread of a process started by vitest or tsx does not have; registered twice they are harmless (each load of
// a .ts file ends in the first hook that takes it).
import { register } from 'node:module';

register('./cli/ts-hooks.mjs', import.meta.url);
await import('./container-thread.ts');
