#!/usr/bin/env node
// CLI launcher: runs the TypeScript CLI through tsx so `npx peaklabel` needs no build step.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`peaklabel needs Node >= 22 (this is ${process.versions.node}); run it through npm/npx so the bundled Node 24 is used.`);
  process.exit(2);
}
register();
const entry = fileURLToPath(new URL('../src/main/cli/index.ts', import.meta.url));
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
