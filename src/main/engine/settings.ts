// The user's engine settings (Settings panel): kept in the user config folder beside the recent-projects
// list, as engine-settings.json, since they belong to the machine rather than to any project.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SUGGESTION_METHOD, type EngineSettings } from '../../common/api';
import { PeakLabelError, type ErrorInfo } from '../../common/errors';
import { writeFileAtomicSync } from '../fs/atomic-write';
import { configDir } from '../store/recent';
import type { RetrievalParams } from './manifest';

export const ENGINE_SETTINGS_FILE = 'engine-settings.json';

export function engineSettingsFile(): string {
  return join(configDir(), ENGINE_SETTINGS_FILE);
}

/** Defaults: automatic provider, one worker, the bundle's tuned thresholds, PRM retrieval, the app's bundle. */
export function defaultEngineSettings(retrieval: RetrievalParams): EngineSettings {
  return {
    provider: 'auto',
    workers: 1,
    peakRelThreshold: retrieval.peakRelThreshold,
    maxPeaks: retrieval.maxPeaks,
    classScoreThreshold: retrieval.classScoreThreshold,
    method: DEFAULT_SUGGESTION_METHOD,
    modelDir: '',
    segmenterDir: '',
  };
}

export interface SavedEngineSettings {
  /** The fields the user set; none when the file is missing or damaged. */
  settings: Partial<EngineSettings>;
  /** Why a damaged file was ignored (SETTINGS_INVALID, naming the file); null when it was fine or missing. */
  warning: ErrorInfo | null;
}

/**
 * The saved choices. A missing file means none. A damaged one (unreadable, not JSON, or rejected by
 * `check`) never stops the engine: the defaults apply, and the warning says which file and what is
 * wrong with it, so the user learns why their choices are gone (saving Settings rewrites the file).
 */
export function readSavedEngineSettings(check: (v: unknown) => string | null): SavedEngineSettings {
  const file = engineSettingsFile();
  const ignored = (problem: string): SavedEngineSettings => ({
    settings: {},
    warning: { code: 'SETTINGS_INVALID', message: `The engine settings file ${file} ${problem}, so it was ignored: the defaults apply until you save Settings again.`, file },
  });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: {}, warning: null };
    return ignored(`cannot be read (${(err as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return ignored(`is not valid JSON (${(err as Error).message})`);
  }
  const bad = check(v);
  return bad === null ? { settings: v as Partial<EngineSettings>, warning: null } : ignored(`holds settings PeakLabel cannot use (they must be ${bad})`);
}

/** Writes the saved choices atomically (temp file + rename), so a crash or a full disk never leaves half a file. */
export function writeEngineSettings(settings: Partial<EngineSettings>): void {
  const file = engineSettingsFile();
  try {
    mkdirSync(configDir(), { recursive: true });
    writeFileAtomicSync(file, JSON.stringify(settings, null, 2));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new PeakLabelError('DISK_FULL', `The disk is full: the engine settings ${file} were not saved (the previous file is unchanged).`, { file, cause: err });
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') throw new PeakLabelError('READ_ONLY', `Cannot save the engine settings ${file}: the folder is read-only.`, { file, cause: err });
    throw new PeakLabelError('INTERNAL', `Could not save the engine settings to ${file} (${(err as Error).message}).`, { file, cause: err });
  }
}

/** The engine-options parts of the settings: 'auto' means no forced provider. */
export function retrievalOverrides(s: EngineSettings): Partial<RetrievalParams> {
  return { peakRelThreshold: s.peakRelThreshold, maxPeaks: s.maxPeaks, classScoreThreshold: s.classScoreThreshold };
}
