export * from './errors.js';
export { contentTypeOf, type DeclaredFormat, declaredFormat, resolveFormat } from './format.js';
export { renderPath } from './issues.js';
export * from './parse.js';
export * from './schema.js';
export { checkTask, DEFAULT_TASK_MODE, DuplicateIds, type TaskCheck } from './task.js';
