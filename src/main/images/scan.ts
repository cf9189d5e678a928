// Finds image files under a folder, recursively. Folders that cannot be read are reported and skipped.
// Links are followed, but every folder and every file is visited once, keyed by its real path: a link
// back to an ancestor (`a/l -> .`) would otherwise recurse until ELOOP, and two such links make the
// walk exponential. An image reached through several links is listed once, by the first path found.
import { readdir, realpath, stat } from 'node:fs/promises';
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
  const seenFiles = new Set<string>();
  const walk = async (dir: string, realDir: string): Promise<void> => {
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
      const isImage = IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase());
      if (e.isSymbolicLink()) {
        try {
          const t = await stat(p);
          isDir = t.isDirectory();
          isFile = t.isFile();
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (isImage || code === 'ELOOP') {
            const why = code === 'ELOOP' ? 'a link that points back to itself' : 'a broken link';
            problems.push({ code: 'UNREADABLE', message: `Cannot read ${p}: it is ${why}.`, file: p });
          }
          continue;
        }
      }
      if (isDir) {
        const real = await realpath(p).catch(() => null);
        if (real === null || seenDirs.has(real)) continue; // already walked (link loop or second link)
        seenDirs.add(real);
        await walk(p, real);
      } else if (isFile && isImage) {
        const real = e.isSymbolicLink() ? await realpath(p).catch(() => p) : join(realDir, e.name);
        if (seenFiles.has(real)) continue;
        seenFiles.add(real);
        files.push(p);
      }
    }
  };
  const realRoot = await realpath(root);
  seenDirs.add(realRoot);
  await walk(root, realRoot);
  return { files, problems };
}
