// Image-level tags from the three layouts labs already have: a CSV (file,tag;tag), one sub-folder per
// class, or a COCO file (the categories present in each image). Tags are added (never removed), in
// one transaction per import; names that match no project image are listed in `unmatched`.
import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { TagImportResult } from '../../common/api';
import { PeakLabelError } from '../../common/errors';
import { readCocoFile } from '../coco/import';
import { createImageMatcher } from '../store/image-matcher';
import type { ProjectStore } from '../store/project-store';
import { scanImageFolder } from '../images/scan';

function apply(store: ProjectStore, entries: Map<number, Set<string>>, unmatched: string[]): TagImportResult {
  const tags = store.addTagsBulk([...entries].map(([id, t]) => [id, [...t]]));
  return { images: entries.size, tags, unmatched };
}

function add(entries: Map<number, Set<string>>, id: number, tags: Iterable<string>): void {
  const set = entries.get(id) ?? new Set<string>();
  for (const t of tags) set.add(t);
  entries.set(id, set);
}

/** Splits one CSV line into fields (double quotes with "" escapes). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; }
    else cur += ch;
  }
  out.push(cur);
  return out;
}

/** `file,tag;tag` per line; a header line starting with "file" is skipped. */
export async function importTagsCsv(store: ProjectStore, path: string): Promise<TagImportResult> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PeakLabelError('UNREADABLE', `Cannot read the tag file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`, { file, cause: err });
  }
  const match = createImageMatcher(store);
  const entries = new Map<number, Set<string>>();
  const unmatched: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const fields = splitCsvLine(line);
    if (i === 0 && /^(file|filename|file_name|image|path)$/i.test(fields[0].trim())) return;
    if (fields.length < 2) throw new PeakLabelError('CSV_INVALID', `${file} line ${i + 1}: expected "file,tag;tag" but found "${line.slice(0, 80)}".`, { file });
    const name = fields[0].trim();
    const tags = fields.slice(1).join(',').split(';').map((t) => t.trim()).filter((t) => t !== '');
    const id = match(name);
    if (id === undefined) unmatched.push(name);
    else add(entries, id, tags);
  });
  return apply(store, entries, unmatched);
}

/** root/<class>/…/image: each project image below a class folder gets that class as a tag. */
export async function importTagsFromFolders(store: ProjectStore, rootPath: string): Promise<TagImportResult> {
  const root = resolve(rootPath);
  const { files } = await scanImageFolder(root);
  const byPath = store.imageIdsByPath();
  const entries = new Map<number, Set<string>>();
  const unmatched: string[] = [];
  for (const f of files) {
    const rel = f.slice(root.length + 1).split(sep);
    if (rel.length < 2) continue; // images directly in root have no class folder
    const id = byPath.get(f);
    if (id === undefined) unmatched.push(f);
    else add(entries, id, [rel[0]]);
  }
  return apply(store, entries, unmatched);
}

/** The names of the categories annotated in each image of a COCO file. */
export async function importTagsFromCoco(store: ProjectStore, path: string): Promise<TagImportResult> {
  const { dataset } = await readCocoFile(path);
  const match = createImageMatcher(store);
  const names = new Map(dataset.categories.map((c) => [c.id, c.name]));
  const present = new Map<number, Set<string>>();
  for (const a of dataset.annotations) {
    const n = names.get(a.category_id);
    if (n === undefined) continue;
    const s = present.get(a.image_id) ?? new Set<string>();
    s.add(n);
    present.set(a.image_id, s);
  }
  const entries = new Map<number, Set<string>>();
  const unmatched: string[] = [];
  for (const im of dataset.images) {
    const id = match(im.file_name);
    if (id === undefined) { unmatched.push(im.file_name); continue; }
    add(entries, id, present.get(im.id) ?? []);
  }
  return apply(store, entries, unmatched);
}
