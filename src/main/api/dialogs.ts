// Native file/folder dialogs exist only in the desktop app: its shell (src/main/index.ts) passes a
// PathChooser into createService. What each purpose asks of the dialog is plain data here, so the
// shell stays a few lines and this module (like the rest of the service) never imports 'electron'.
import type { ChoosePathRequest, PathPurpose } from '../../common/api';

/** Asks the user for a path; null when they cancelled. */
export type PathChooser = (request: ChoosePathRequest) => Promise<string | null>;

type Filter = { name: string; extensions: string[] };

/** Options shaped like Electron's OpenDialogOptions / SaveDialogOptions (checked where the shell uses them). */
export type DialogSpec =
  | { kind: 'open'; options: { title: string; defaultPath?: string; properties: ('openFile' | 'openDirectory')[]; filters?: Filter[] } }
  | { kind: 'save'; options: { title: string; defaultPath?: string; properties: ('createDirectory' | 'showOverwriteConfirmation')[]; filters?: Filter[] } };

const PROJECT: Filter = { name: 'PeakLabel project', extensions: ['peaklabel'] };
const ALL: Filter = { name: 'All files', extensions: ['*'] };

const open = (title: string, what: 'openFile' | 'openDirectory', filters?: Filter[]): DialogSpec => ({ kind: 'open', options: { title, properties: [what], filters } });

const SPECS: Record<PathPurpose, DialogSpec> = {
  'open-project': open('Open project', 'openFile', [PROJECT]),
  // createProject refuses an existing file, so no overwrite confirmation.
  'new-project': { kind: 'save', options: { title: 'New project', properties: ['createDirectory'], filters: [PROJECT] } },
  'image-folder': open('Add image folder', 'openDirectory'),
  'coco-file': open('Import COCO annotations', 'openFile', [{ name: 'COCO JSON', extensions: ['json'] }, ALL]),
  'tags-csv': open('Import tags', 'openFile', [{ name: 'CSV', extensions: ['csv'] }, ALL]),
  // Export replaces the file.
  'export-coco': { kind: 'save', options: { title: 'Export COCO', properties: ['createDirectory', 'showOverwriteConfirmation'], filters: [{ name: 'COCO JSON', extensions: ['json'] }] } },
  'relink-folder': open('Folder the images moved to', 'openDirectory'),
  'model-folder': open('Model bundle folder (with manifest.json)', 'openDirectory'),
  'segmenter-folder': open('Segmenter folder (encoder.onnx + decoder.onnx)', 'openDirectory'),
};

/** The dialog for one request, starting at its default path when one was given. */
export function dialogSpec({ purpose, defaultPath }: ChoosePathRequest): DialogSpec {
  const spec = SPECS[purpose];
  if (!defaultPath) return spec;
  return spec.kind === 'open' ? { kind: 'open', options: { ...spec.options, defaultPath } } : { kind: 'save', options: { ...spec.options, defaultPath } };
}
