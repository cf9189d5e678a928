// The project screen's Import… dialog: the four imports a user pre-labelling a dataset brings (tags from a
// CSV, from sub-folder names or from a COCO file; COCO annotations), the API call behind each, and the
// sentence that says what it did. Plain TS so the dialog stays a form.
import type { CocoImportResult, PathPurpose, PeakLabelApi, TagImportResult } from '../../../common/api';
import { count } from '../../../common/count';

export type ImportKind = 'tags-csv' | 'tags-folders' | 'tags-coco' | 'coco-annotations';
/** How COCO annotations enter the project: suggestions to review, or ground truth (importCoco's `as`). */
export type CocoRole = 'prior' | 'ground_truth';

export interface ImportChoice {
  kind: ImportKind;
  label: string;
  hint: string;
  /** Which OS dialog Browse… opens. */
  purpose: PathPurpose;
  placeholder: string;
}

export const IMPORT_CHOICES: readonly ImportChoice[] = [
  { kind: 'tags-csv', label: 'Tags from a CSV file', hint: 'one line per image: file,tag;tag', purpose: 'tags-csv', placeholder: '/path/to/tags.csv' },
  { kind: 'tags-folders', label: 'Tags from sub-folder names', hint: 'root/<tag>/…/image: each image gets the name of its top sub-folder', purpose: 'image-folder', placeholder: '/path/to/root/folder' },
  { kind: 'tags-coco', label: 'Tags from a COCO file', hint: 'each image gets the categories annotated in it', purpose: 'coco-file', placeholder: '/path/to/instances.json' },
  { kind: 'coco-annotations', label: 'COCO annotations', hint: 'masks become instances, categories become classes', purpose: 'coco-file', placeholder: '/path/to/instances.json' },
];

/** The job kind under which an import reports progress (see ProgressEvent.kind); null: it reports none. */
export function progressKind(kind: ImportKind): string | null {
  return kind === 'coco-annotations' ? 'import-coco' : null;
}

export interface ImportReport {
  /** What the import did, in one sentence. */
  summary: string;
  /** What it could not use (a few items, then how many more). */
  notes: string[];
  /** Whether the import may have added classes (COCO categories become classes). */
  classesChanged: boolean;
}

/** Notes listed one by one before the rest is summed up. */
const MAX_NOTES = 5;

export function describeTagImport(r: TagImportResult): ImportReport {
  const parts = [`${count(r.images, 'image')} matched`, `${count(r.tags, 'tag')} added`];
  if (r.unmatched.length) parts.push(`${count(r.unmatched.length, 'name')} matched no project image`);
  const shown = r.unmatched.slice(0, MAX_NOTES).join(', ');
  const more = r.unmatched.length > MAX_NOTES ? ` and ${r.unmatched.length - MAX_NOTES} more` : '';
  return {
    summary: `Tags imported: ${parts.join(', ')}.`,
    notes: r.unmatched.length ? [`Not in the project: ${shown}${more}.`] : [],
    classesChanged: false,
  };
}

export function describeCocoImport(r: CocoImportResult, role: CocoRole): ImportReport {
  const as = role === 'prior' ? 'as suggestions to review' : 'as ground truth (those images are now done)';
  const skipped = r.skipped.length ? `; ${count(r.skipped.length, 'problem')} skipped` : '';
  const notes = r.skipped.slice(0, MAX_NOTES).map((p) => p.message);
  if (r.skipped.length > MAX_NOTES) notes.push(`… and ${r.skipped.length - MAX_NOTES} more problems.`);
  return {
    summary: `Imported ${count(r.instances, 'instance')} on ${count(r.images, 'image')} in ${count(r.categories, 'category', 'categories')} ${as}${skipped}.`,
    notes,
    classesChanged: true,
  };
}

/** Runs one import; rejects with the service's error (a sentence naming the file) when the file cannot be used. */
export async function runImport(api: PeakLabelApi, kind: ImportKind, path: string, role: CocoRole): Promise<ImportReport> {
  switch (kind) {
    case 'tags-csv':
      return describeTagImport(await api.importTagsCsv(path));
    case 'tags-folders':
      return describeTagImport(await api.importTagsFromFolders(path));
    case 'tags-coco':
      return describeTagImport(await api.importTagsFromCoco(path));
    case 'coco-annotations':
      return describeCocoImport(await api.importCoco(path, role), role);
  }
}
