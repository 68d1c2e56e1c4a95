#!/usr/bin/env node
// The `furrow` command (package.json "bin"): loads tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
await runCli(process.argv);
