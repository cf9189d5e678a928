// The Import… dialog's logic: which API call each import makes and the sentence it reports.
import { describe, expect, it } from 'vitest';
import type { CocoImportResult, PeakLabelApi, TagImportResult } from '../../src/common/api';
import { describeCocoImport, describeTagImport, IMPORT_CHOICES, progressKind, runImport } from '../../src/renderer/src/lib/imports';

describe('describeTagImport', () => {
  it('counts matches and tags, and lists a few unmatched names', () => {
    const unmatched = ['a.png', 'b.png', 'c.png', 'd.png', 'e.png', 'f.png', 'g.png'];
    const r = describeTagImport({ images: 1, tags: 2, unmatched });
    expect(r.summary).toBe('Tags imported: 1 image matched, 2 tags added, 7 names matched no project image.');
    expect(r.notes).toEqual(['Not in the project: a.png, b.png, c.png, d.png, e.png and 2 more.']);
    expect(r.classesChanged).toBe(false);
  });

  it('says nothing about unmatched names when all matched', () => {
    const r = describeTagImport({ images: 3, tags: 1, unmatched: [] });
    expect(r.summary).toBe('Tags imported: 3 images matched, 1 tag added.');
    expect(r.notes).toEqual([]);
  });
});

describe('describeCocoImport', () => {
  const skipped = (n: number) => Array.from({ length: n }, (_, i) => ({ code: 'NOT_FOUND' as const, message: `problem ${i + 1}` }));

  it('says how the instances entered the project and what was skipped', () => {
    const prior = describeCocoImport({ images: 3, instances: 7, categories: 1, skipped: [] }, 'prior');
    expect(prior.summary).toBe('Imported 7 instances on 3 images in 1 category as suggestions to review.');
    expect(prior.classesChanged).toBe(true);
    const gt = describeCocoImport({ images: 1, instances: 1, categories: 2, skipped: skipped(7) }, 'ground_truth');
    expect(gt.summary).toBe('Imported 1 instance on 1 image in 2 categories as ground truth (those images are now done); 7 problems skipped.');
    expect(gt.notes).toEqual(['problem 1', 'problem 2', 'problem 3', 'problem 4', 'problem 5', '… and 2 more problems.']);
  });
});

describe('runImport', () => {
  const tagResult: TagImportResult = { images: 1, tags: 1, unmatched: [] };
  const cocoResult: CocoImportResult = { images: 1, instances: 2, categories: 1, skipped: [] };

  /** An API that records which import method was called, with what. */
  function recordingApi(calls: string[]): PeakLabelApi {
    const tags = (name: string) => async (path: string) => { calls.push(`${name} ${path}`); return tagResult; };
    return {
      importTagsCsv: tags('importTagsCsv'),
      importTagsFromFolders: tags('importTagsFromFolders'),
      importTagsFromCoco: tags('importTagsFromCoco'),
      importCoco: async (path: string, as: string) => { calls.push(`importCoco ${path} ${as}`); return cocoResult; },
    } as unknown as PeakLabelApi;
  }

  it('calls the API method of each kind, passing the COCO role', async () => {
    const calls: string[] = [];
    const api = recordingApi(calls);
    for (const c of IMPORT_CHOICES) await runImport(api, c.kind, `/x/${c.kind}`, 'ground_truth');
    expect(calls).toEqual([
      'importTagsCsv /x/tags-csv',
      'importTagsFromFolders /x/tags-folders',
      'importTagsFromCoco /x/tags-coco',
      'importCoco /x/coco-annotations ground_truth',
    ]);
    expect((await runImport(api, 'coco-annotations', '/c.json', 'prior')).summary).toContain('as suggestions to review');
    expect(calls.at(-1)).toBe('importCoco /c.json prior');
  });

  it('passes the service error through unchanged', async () => {
    const error = { code: 'CSV_INVALID', message: '/t.csv line 2: expected "file,tag;tag" but found "x".' };
    const api = { importTagsCsv: () => Promise.reject(error) } as unknown as PeakLabelApi;
    await expect(runImport(api, 'tags-csv', '/t.csv', 'prior')).rejects.toBe(error);
  });

  it('only the COCO annotation import reports progress', () => {
    expect(IMPORT_CHOICES.map((c) => progressKind(c.kind))).toEqual([null, null, null, 'import-coco']);
  });
});
