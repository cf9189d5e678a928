// The user's engine settings (Settings panel): kept in the user config folder beside the recent-projects
// list, as engine-settings.json, since they belong to the machine rather than to any project.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SUGGESTION_METHOD, type EngineSettings } from '../../common/api';
import { PeakLabelError } from '../../common/errors';
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

/**
 * The saved choices (only the fields the user set). A missing file means none; a damaged one is ignored
 * (defaults apply) after `check` rejects it, so a hand-edited file can never stop the engine.
 */
export function readSavedEngineSettings(check: (v: unknown) => string | null): Partial<EngineSettings> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(engineSettingsFile(), 'utf8'));
  } catch {
    return {};
  }
  return check(v) === null ? (v as Partial<EngineSettings>) : {};
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
