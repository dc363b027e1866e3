// Where the CLI's kept bundle lives when the CLI runs from it (local/cli/bin.mjs sets this before loading it),
// else undefined: the modules run from their TypeScript sources (the CLI's module hooks, or vitest). A module
// that imports a path computed at run time (a container's own copy of its handler) must name the bundle's file
// then, which the bundler could not see.
const BUNDLE = Symbol.for('bounded-fanout.bundle');

export const bundleBase = (): URL | undefined => (globalThis as { [BUNDLE]?: URL })[BUNDLE];
