#!/usr/bin/env node
// The `edgebatch` command: register tsx so the TypeScript CLI and the user's handler files load, then run it.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
