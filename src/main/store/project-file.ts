// What counts as a PeakLabel project file. Projects carry PRAGMA application_id = 'PKLB', set when
// they are created. Anything else (another program's SQLite database, an empty file, a text file) is
// refused before a single byte is written: no WAL switch, no migration, no tables added.
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { PeakLabelError } from '../../common/errors';

/** ASCII 'PKLB' as a 32-bit big-endian integer: PRAGMA application_id of every PeakLabel project. */
export const PEAKLABEL_APPLICATION_ID = 0x504b4c42;

/** The tables every PeakLabel schema has had since version 1 (projects made before the mark). */
const LEGACY_TABLES = ['schema_version', 'meta', 'classes', 'images', 'instances', 'undo_journal'];

/**
 * Refuses an existing file that is not a PeakLabel project. It is read through a read-only connection,
 * which never checkpoints or rewrites anything, so a refused file stays byte-identical.
 */
export function checkProjectFile(path: string): void {
  if (statSync(path).size === 0) {
    throw new PeakLabelError('NOT_A_PROJECT', `${path} is an empty file, not a PeakLabel project: create a new project instead of opening it.`, { file: path });
  }
  let probe: Database.Database;
  let appId: number;
  let tables: Set<string>;
  try {
    probe = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new PeakLabelError('UNREADABLE', `Cannot open ${path} (${(err as Error).message}).`, { file: path, cause: err });
  }
  try {
    appId = probe.pragma('application_id', { simple: true }) as number;
    tables = new Set(probe.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new PeakLabelError('PROJECT_CORRUPT', `${path} is not a PeakLabel project or is damaged (${(err as Error).message}).`, { file: path, cause: err });
    }
    throw new PeakLabelError('UNREADABLE', `Cannot read ${path} (${(err as Error).message}).`, { file: path, cause: err });
  } finally {
    probe.close();
  }
  if (appId === PEAKLABEL_APPLICATION_ID) return;
  if (appId === 0 && LEGACY_TABLES.every((t) => tables.has(t))) return; // made before the mark; marked on open
  const whose = appId === 0 ? '' : ` (its application id is 0x${(appId >>> 0).toString(16).padStart(8, '0')})`;
  throw new PeakLabelError(
    'NOT_A_PROJECT',
    `${path} is an SQLite database of another program${whose}, not a PeakLabel project: it was left unchanged.`,
    { file: path },
  );
}

/**
 * Marks a (new or pre-mark) project as PeakLabel's. A read-only pre-mark project stays unmarked and
 * opens anyway (its tables identify it); any other failure is the caller's.
 */
export function markProjectFile(db: Database.Database): void {
  if (db.pragma('application_id', { simple: true }) === PEAKLABEL_APPLICATION_ID) return;
  try {
    db.pragma(`application_id = ${PEAKLABEL_APPLICATION_ID}`);
  } catch (err) {
    if (!String((err as { code?: string }).code).startsWith('SQLITE_READONLY')) throw err;
  }
}
