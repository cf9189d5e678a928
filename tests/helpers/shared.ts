// Tests that need ../shared fail loudly when it is missing (CI must not skip them silently).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedRoot = process.env.PEAKLABEL_SHARED ?? resolve(repoRoot, '..', 'shared');

/** Absolute path of a file under ../shared; throws (failing the test) when it does not exist. */
export function sharedPath(...parts: string[]): string {
  const p = join(sharedRoot, ...parts);
  if (!existsSync(p)) throw new Error(`required test data missing: ${p} (../shared must sit beside the repository)`);
  return p;
}

/** Per-test scratch folder under test-output/ (kept after the run for inspection). */
export function testOutput(...parts: string[]): string {
  return join(repoRoot, 'test-output', ...parts);
}

/** testOutput(...parts), emptied and created. */
export function freshOutput(...parts: string[]): string {
  const dir = testOutput(...parts);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The project's Python (model kit venv); tests that cross-check with pycocotools or torch use it. */
export const python = join(repoRoot, '.venv', 'bin', 'python');
