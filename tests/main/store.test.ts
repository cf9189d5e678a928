import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Rle } from '../../src/common/api';
import { createMask } from '../../src/common/mask';
import { encodeMask } from '../../src/common/rle';
import { SCHEMA_VERSION } from '../../src/main/store/migrations';
import { ServiceContext } from '../../src/main/api/context';
import { createService } from '../../src/main/api/service';
import { markProjectFile, PEAKLABEL_APPLICATION_ID } from '../../src/main/store/project-file';
import { ProjectStore, type NewImage } from '../../src/main/store/project-store';
import { freshOutput, testOutput } from '../helpers/shared';
import { caught } from '../helpers/errors';

const dir = testOutput('main', 'store');
let n = 0;
const freshPath = () => join(dir, `p${process.pid}-${n++}.peaklabel`);

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Rle {
  const m = createMask(w, h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * w + x] = 1;
  return encodeMask(m);
}

function image(path: string, hash = path): NewImage {
  return { path, hash, width: 40, height: 30, orientation: 1, fileSize: 1, workingCopy: null, thumbnail: { width: 4, height: 3, jpeg: new Uint8Array([1, 2, 3]) } };
}

// Emptied first: file names carry the worker's pid, which a later run can get again.
beforeAll(() => freshOutput('main', 'store'));

describe('ProjectStore', () => {
  beforeEach(() => mkdirSync(dir, { recursive: true }));

  it('creates a WAL database with foreign keys at the current schema version', () => {
    const path = freshPath();
    const s = ProjectStore.create(path);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(s.info()).toMatchObject({ path, schemaVersion: SCHEMA_VERSION, imageCount: 0 });
    s.close();
    expect(caught(() => ProjectStore.create(path)).code).toBe('BAD_ARGUMENT');
  });

  it('marks new projects with application_id PKLB and reopens them without changes', () => {
    const path = freshPath();
    const s = ProjectStore.create(path);
    s.saveClass({ name: 'cat' });
    expect(s.db.pragma('application_id', { simple: true })).toBe(PEAKLABEL_APPLICATION_ID);
    s.close();
    const again = ProjectStore.open(path);
    expect(again.listClasses().map((c) => c.name)).toEqual(['cat']);
    expect((again.db.prepare('SELECT version FROM schema_version').get() as { version: number }).version).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('refuses a foreign SQLite database, an empty file and a text file, leaving each byte-identical', () => {
    const foreign = freshPath();
    const raw = new Database(foreign);
    raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')");
    raw.close();
    const otherApp = freshPath();
    const raw2 = new Database(otherApp);
    raw2.pragma('application_id = 1196444487'); // 'GPKG'
    raw2.exec('CREATE TABLE schema_version (version INTEGER); CREATE TABLE images (id INTEGER)');
    raw2.close();
    const empty = freshPath();
    writeFileSync(empty, '');
    const text = freshPath();
    writeFileSync(text, 'this is not sqlite at all, just some text long enough to have a header'.repeat(20));

    for (const [path, code] of [[foreign, 'NOT_A_PROJECT'], [otherApp, 'NOT_A_PROJECT'], [empty, 'NOT_A_PROJECT'], [text, 'PROJECT_CORRUPT']] as const) {
      const before = sha256(path);
      const e = caught(() => ProjectStore.open(path));
      expect(e.code).toBe(code);
      expect(e.file).toBe(path);
      expect(e.message).toContain(path);
      expect(e.message).toMatch(/not a PeakLabel project/);
      expect(sha256(path)).toBe(before);
      expect(existsSync(`${path}-wal`)).toBe(false);
      // create never takes over an existing file either
      expect(caught(() => ProjectStore.create(path)).code).toBe('BAD_ARGUMENT');
      expect(sha256(path)).toBe(before);
    }
    const check = new Database(foreign, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });

  it('opens a project made before the mark (schema_version, application_id 0) and marks it', () => {
    const path = freshPath();
    const s = ProjectStore.create(path);
    s.saveClass({ name: 'cat' });
    s.db.pragma('application_id = 0'); // as every project was before the mark
    s.close();
    const old = new Database(path, { readonly: true });
    expect(old.pragma('application_id', { simple: true })).toBe(0);
    old.close();
    // A read-only copy cannot take the mark and is still usable (its tables identify it).
    const readOnly = new Database(path, { readonly: true });
    expect(() => markProjectFile(readOnly)).not.toThrow();
    readOnly.close();
    const again = ProjectStore.open(path);
    expect(again.listClasses().map((c) => c.name)).toEqual(['cat']);
    expect(again.db.pragma('application_id', { simple: true })).toBe(PEAKLABEL_APPLICATION_ID);
    again.close();
  });

  it('refuses an existing file through the API and the CLI-style create-when-missing path', async () => {
    const path = freshPath();
    writeFileSync(path, '');
    const ctx = new ServiceContext();
    const api = createService(ctx);
    await expect(api.openProject(path)).rejects.toMatchObject({ code: 'NOT_A_PROJECT', file: path });
    await expect(api.createProject(path)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(caught(() => ProjectStore.open(path, { create: true })).code).toBe('NOT_A_PROJECT');
    expect(statSync(path).size).toBe(0);
    ctx.close();
  });

  it('refuses a file from a newer schema, naming the file, and leaves it untouched', () => {
    const path = freshPath();
    ProjectStore.create(path).close();
    const raw = new Database(path);
    raw.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
    raw.close();
    const e = caught(() => ProjectStore.open(path));
    expect(e.code).toBe('SCHEMA_TOO_NEW');
    expect(e.message).toContain(path);
    const check = new Database(path, { readonly: true });
    expect((check.prepare('SELECT version FROM schema_version').get() as { version: number }).version).toBe(SCHEMA_VERSION + 1);
    check.close();
  });

  it('runs a batch in one transaction: a failing item leaves nothing behind', () => {
    const s = ProjectStore.create(freshPath());
    s.insertImages([image('/a.jpg')]);
    expect(() => s.insertImages([image('/b.jpg'), image('/a.jpg', 'other')])).toThrow();
    expect(s.info().imageCount).toBe(1);
    expect(s.imageIdsByPath().has('/b.jpg')).toBe(false);
    s.close();
  });

  it('stores instances with bbox and area from the RLE, and counts them per image', () => {
    const s = ProjectStore.create(freshPath());
    const [img] = s.insertImages([image('/a.jpg')]);
    const cls = s.saveClass({ name: 'dog' });
    const inst = s.createInstance(img, { classId: cls.id, mask: rect(40, 30, 5, 6, 15, 10), source: 'manual' });
    expect(inst.bbox).toEqual([5, 6, 10, 4]);
    expect(inst.area).toBe(40);
    expect(s.getImage(img).counts.manual).toBe(1);
    s.close();
  });

  it('keeps undo/redo of instance edits across a restart', () => {
    const path = freshPath();
    let s = ProjectStore.create(path);
    const [img] = s.insertImages([image('/a.jpg')]);
    const cat = s.saveClass({ name: 'cat' });
    const dog = s.saveClass({ name: 'dog' });
    const a = s.createInstance(img, { classId: cat.id, mask: rect(40, 30, 0, 0, 10, 10), source: 'manual' });
    s.editInstance(a.id, { classId: dog.id, mask: rect(40, 30, 0, 0, 20, 10) });
    s.deleteInstances([a.id]);
    expect(s.listInstances(img)).toEqual([]);
    s.close();

    s = ProjectStore.open(path);
    expect(s.undo()).toBe(true); // delete undone
    expect(s.listInstances(img)[0]).toMatchObject({ id: a.id, classId: dog.id, area: 200 });
    expect(s.undo()).toBe(true); // edit undone
    expect(s.listInstances(img)[0]).toMatchObject({ id: a.id, classId: cat.id, area: 100 });
    s.close();

    s = ProjectStore.open(path);
    expect(s.redo()).toBe(true); // edit again
    expect(s.listInstances(img)[0]).toMatchObject({ classId: dog.id, area: 200 });
    expect(s.undo()).toBe(true);
    expect(s.undo()).toBe(true); // creation undone
    expect(s.listInstances(img)).toEqual([]);
    expect(s.undo()).toBe(false);
    expect(s.redo()).toBe(true);
    expect(s.listInstances(img)).toHaveLength(1);
    // A new action drops the redo stack.
    s.acceptInstances([a.id]);
    expect(s.redo()).toBe(false);
    s.close();
  });

  it('replaces an image\'s suggestions in one transaction and keeps reviewed instances', () => {
    const s = ProjectStore.create(freshPath());
    const [img] = s.insertImages([image('/a.jpg')]);
    const cls = s.saveClass({ name: 'cat' });
    const [first] = s.replaceSuggestions(img, [
      { classId: cls.id, mask: rect(40, 30, 0, 0, 5, 5), score: 0.9, peak: { x: 2, y: 2 }, modelId: 'm1', method: 'prm' },
      { classId: cls.id, mask: rect(40, 30, 10, 10, 15, 15), score: 0.5, peak: { x: 12, y: 12 }, modelId: 'm1', method: 'prm' },
    ]);
    s.acceptInstances([first]);
    expect(s.getImage(img).status).toBe('suggested');
    expect(s.imagesNeedingSuggestions().map((x) => x.id)).toEqual([]);
    expect(s.imagesNeedingSuggestions({ force: true }).map((x) => x.id)).toEqual([img]);
    s.replaceSuggestions(img, [{ classId: cls.id, mask: rect(40, 30, 20, 20, 25, 25), score: 0.7, modelId: 'm2', method: 'iam' }]);
    const rows = s.listInstances(img);
    expect(rows.map((r) => [r.source, r.modelId])).toEqual([['accepted', 'm1'], ['suggested', 'm2']]);
    expect(rows[0].peak).toEqual({ x: 2, y: 2 });
    // A failure inside rolls everything back.
    expect(() => s.replaceSuggestions(img, [{ classId: 9999, mask: rect(40, 30, 0, 0, 1, 1) }])).toThrow();
    expect(s.listInstances(img).map((r) => r.modelId)).toEqual(['m1', 'm2']);
    s.close();
  });

  it('filters and pages images by status and tag', () => {
    const s = ProjectStore.create(freshPath());
    const ids = s.insertImages(['/c.jpg', '/a.jpg', '/b.jpg'].map((p) => image(p)));
    s.setTags([ids[0], ids[2]], ['cat', 'dog'], []);
    s.setTags([ids[2]], [], ['dog']);
    s.setImageStatus([ids[1]], 'done');
    expect(s.listImages({ offset: 0, limit: 10 }).items.map((i) => i.fileName)).toEqual(['a.jpg', 'b.jpg', 'c.jpg']);
    expect(s.listImages({ offset: 1, limit: 1 })).toMatchObject({ total: 3, items: [{ fileName: 'b.jpg' }] });
    expect(s.listImages({ offset: 0, limit: 10, tag: 'dog' }).items.map((i) => i.fileName)).toEqual(['c.jpg']);
    expect(s.listImages({ offset: 0, limit: 10, status: 'done' }).items.map((i) => i.fileName)).toEqual(['a.jpg']);
    expect(s.summary().byStatus).toMatchObject({ new: 2, done: 1 });
    expect(s.relinkFolder('/', '/moved')).toBe(3);
    expect(s.getImage(ids[0]).path).toBe('/moved/c.jpg');
    s.close();
  });
});

