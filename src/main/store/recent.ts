// Recently opened projects: a small JSON list in the user's config folder (not in any project file,
// since it spans projects). PEAKLABEL_CONFIG_DIR overrides the folder (tests, portable installs).
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../fs/atomic-write';
import { homedir } from 'node:os';
import { join } from 'node:path';

const MAX_RECENT = 12;

export function configDir(): string {
  if (process.env.PEAKLABEL_CONFIG_DIR) return process.env.PEAKLABEL_CONFIG_DIR;
  const base = process.env.XDG_CONFIG_HOME || (process.platform === 'win32' ? process.env.APPDATA : undefined) || join(homedir(), '.config');
  return join(base ?? join(homedir(), '.config'), 'peaklabel');
}

function recentFile(): string {
  return join(configDir(), 'recent-projects.json');
}

export function readRecent(): string[] {
  try {
    const v = JSON.parse(readFileSync(recentFile(), 'utf8')) as unknown;
    return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return []; // missing or damaged list: start afresh, it is only a convenience
  }
}

/** Moves path to the front of the list. Failing to save the list never fails the caller. */
export function rememberRecent(path: string): void {
  const list = [path, ...readRecent().filter((p) => p !== path)].slice(0, MAX_RECENT);
  try {
    mkdirSync(configDir(), { recursive: true });
    writeFileAtomicSync(recentFile(), JSON.stringify(list, null, 2));
  } catch {
    // read-only home: the list is not essential
  }
}
