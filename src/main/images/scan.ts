// Finds image files under a folder, recursively. Folders that cannot be read are reported and skipped.
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { PeakLabelError, type ErrorInfo } from '../../common/errors';
import { IMAGE_EXTENSIONS } from './decode';

export interface ScanResult {
  files: string[];
  problems: ErrorInfo[];
}

export async function scanImageFolder(folder: string): Promise<ScanResult> {
  const root = resolve(folder);
  let st;
  try {
    st = await stat(root);
  } catch (err) {
    throw new PeakLabelError('NOT_FOUND', `The folder ${root} does not exist or cannot be read.`, { file: root, cause: err });
  }
  if (!st.isDirectory()) throw new PeakLabelError('BAD_ARGUMENT', `${root} is not a folder.`, { file: root });
  const files: string[] = [];
  const problems: ErrorInfo[] = [];
  const seenDirs = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      problems.push({ code: 'UNREADABLE', message: `Cannot read the folder ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); its images were skipped.`, file: dir });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const t = await stat(p);
          isDir = t.isDirectory();
          isFile = t.isFile();
        } catch {
          if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) {
            problems.push({ code: 'UNREADABLE', message: `Cannot read ${p}: it is a broken link.`, file: p });
          }
          continue;
        }
      }
      if (isDir) {
        const key = resolve(p);
        if (seenDirs.has(key)) continue; // link loops
        seenDirs.add(key);
        await walk(p);
      } else if (isFile && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) {
        files.push(p);
      }
    }
  };
  seenDirs.add(root);
  await walk(root);
  return { files, problems };
}
