#!/usr/bin/env node
// The one test command (`npm test`): vitest for TypeScript, type checks (tsc, svelte-check), pytest for
// the Python model kit.
// Prints one closing line "N passed, N failed" over both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-output');
mkdirSync(out, { recursive: true });
const run = (cmd, args, env = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status;

// System packages (apt, when missing), then the Python venv (torch itself comes from apt).
const system = run('bash', ['scripts/setup-system.sh']);
const setup = system === 0 ? run('bash', ['scripts/setup-python.sh']) : 1;
let passed = 0;
let failed = 0;
if (setup !== 0) {
  console.error('Python set-up failed: the model kit tests count as one failure.');
  failed++;
}

const vitestJson = join(out, 'vitest.json');
const args = process.argv.slice(2);
run(join(root, 'node_modules', '.bin', 'vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...args]);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + countSuitesThatDidNotLoad(r);
} else {
  console.error('vitest wrote no report: counted as one failure.');
  failed++;
}

// Type checks of every layer and of the Svelte components: one test each (full runs only).
if (args.length === 0) {
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  const tsconfig = join(root, 'tsconfig.json');
  const checks = [
    ['tsc --noEmit', bin('tsc'), ['--noEmit', '-p', tsconfig]],
    ['svelte-check', bin('svelte-check'), ['--tsconfig', tsconfig, '--workspace', join(root, 'src', 'renderer'), '--fail-on-warnings']],
  ];
  for (const [name, cmd, cargs] of checks) {
    if (run(cmd, cargs) === 0) passed++;
    else {
      console.error(`${name} found errors: counted as one failure.`);
      failed++;
    }
  }
}

if (setup === 0 && args.length === 0) {
  const junit = join(out, 'pytest.xml');
  run(join(root, '.venv', 'bin', 'python'), ['-m', 'pytest', 'tools/model-kit/tests', '-q', `--junitxml=${junit}`], { PYTHONDONTWRITEBYTECODE: '1' });
  if (existsSync(junit)) {
    const xml = readFileSync(junit, 'utf8');
    const m = xml.match(/<testsuite [^>]*>/);
    const attr = (k) => Number((m?.[0].match(new RegExp(`${k}="(\\d+)"`)) ?? [])[1] ?? 0);
    const total = attr('tests');
    const bad = attr('failures') + attr('errors');
    passed += total - bad - attr('skipped');
    failed += bad + attr('skipped'); // a skipped kit test means missing data or deps: count it as failed
  } else {
    console.error('pytest wrote no report: counted as one failure.');
    failed++;
  }
}

// A test file that failed to load reports no tests; count each such file as one failure.
function countSuitesThatDidNotLoad(r) {
  return r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
}

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
