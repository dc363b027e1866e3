#!/usr/bin/env node
// The `bounded-fanout` executable: runs the TypeScript entry through tsx's loader (a devDependency, present
// after `npm install` in a clone), then exits with the command's code even if a stray handle is still open.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2));
process.exit(code);
