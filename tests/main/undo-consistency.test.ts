// Undo stays consistent with the writers that are not undo steps (pre-labelling, COCO re-import, class
// deletion): an undo or redo never deletes or overwrites a row it did not write, instance ids are never
// reused, and a step that cannot apply is dropped with a sentence instead of failing on every try.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Rle } from '../../src/common/api';
import { createMask } from '../../src/common/mask';
import { encodeMask } from '../../src/common/rle';
import { SCHEMA_VERSION } from '../../src/main/store/migrations';
import { ProjectStore, type NewImage } from '../../src/main/store/project-store';
import { caught } from '../helpers/errors';
import { freshOutput, testOutput } from '../helpers/shared';

const dir = testOutput('main', 'undo');
let n = 0;
const freshPath = () => join(dir, `u${process.pid}-${n++}.peaklabel`);

function rect(x0: number, y0: number, x1: number, y1: number): Rle {
  const m = createMask(40, 30);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * 40 + x] = 1;
  return encodeMask(m);
}

function image(path: string): NewImage {
  return { path, hash: path, width: 40, height: 30, orientation: 1, fileSize: 1, workingCopy: null, thumbnail: { width: 4, height: 3, jpeg: new Uint8Array([1]) } };
}

function project() {
  const s = ProjectStore.create(freshPath());
  const [img] = s.insertImages([image('/a.jpg')]);
  const cat = s.saveClass({ name: 'cat' });
  const dog = s.saveClass({ name: 'dog' });
  return { s, img, cat: cat.id, dog: dog.id };
}

const rows = (s: ProjectStore, img: number) => s.listInstances(img).map((r) => ({ id: r.id, source: r.source, classId: r.classId, area: r.area }));
const steps = (s: ProjectStore) => (s.db.prepare('SELECT COUNT(*) FROM undo_journal').pluck().get() as number);

// Emptied first: file names carry the worker's pid, which a later run can get again.
beforeAll(() => freshOutput('main', 'undo'));

describe('undo with pre-labelling (replaceSuggestions)', () => {
  it('a clicked suggestion replaced by a pre-label run: undo leaves the new suggestions alone', () => {
    const { s, img, cat } = project();
    const clicked = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'suggested' }); // suggestForPeak
    const fresh = s.replaceSuggestions(img, [{ classId: cat, mask: rect(10, 10, 20, 20) }, { classId: cat, mask: rect(20, 0, 30, 5) }]);
    expect(fresh).not.toContain(clicked.id); // no id reuse
    const after = rows(s, img);
    expect(s.undo()).toBe(false); // the click's step named a row the run removed: it is gone
    expect(rows(s, img)).toEqual(after);
    expect(s.redo()).toBe(false);
    s.close();
  });

  it('keeps the steps of instances the run did not touch', () => {
    const { s, img, cat, dog } = project();
    const manual = s.createInstance(img, { classId: cat, mask: rect(0, 0, 10, 10), source: 'manual' });
    s.editInstance(manual.id, { classId: dog });
    const [sug] = s.replaceSuggestions(img, [{ classId: cat, mask: rect(20, 20, 25, 25) }]);
    s.acceptInstances([sug]);
    s.replaceSuggestions(img, [{ classId: cat, mask: rect(30, 20, 35, 25) }]); // the accepted one stays
    expect(s.undo()).toBe(true); // accept undone: back to 'suggested'
    expect(s.getInstance(sug).source).toBe('suggested');
    expect(s.undo()).toBe(true); // the class edit
    expect(s.getInstance(manual.id).classId).toBe(cat);
    expect(s.listInstances(img).filter((r) => r.source === 'suggested')).toHaveLength(2);
    s.close();
  });

  it('an undone step, then a run, then redo: the redo writes only its own row', () => {
    const { s, img, cat } = project();
    const clicked = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    expect(s.undo()).toBe(true);
    const fresh = s.replaceSuggestions(img, [{ classId: cat, mask: rect(10, 10, 20, 20) }]);
    expect(fresh).not.toContain(clicked.id);
    expect(s.redo()).toBe(true);
    expect(rows(s, img).map((r) => [r.id, r.source])).toEqual([[clicked.id, 'manual'], [fresh[0], 'suggested']]);
    s.close();
  });
});

describe('undo with COCO re-import (insertInstancesBulk, replaceImported)', () => {
  it('imported rows never take an id an undo step names', () => {
    const { s, img, cat } = project();
    const drawn = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    expect(s.undo()).toBe(true); // the drawn row is gone; redo would bring back its id
    const imported = s.insertInstancesBulk(img, [{ classId: cat, mask: rect(10, 10, 20, 20), source: 'imported' }]);
    expect(imported).not.toContain(drawn.id);
    expect(s.redo()).toBe(true);
    expect(rows(s, img).map((r) => [r.id, r.source])).toEqual([[drawn.id, 'manual'], [imported[0], 'imported']]);
    expect(s.undo()).toBe(true);
    expect(rows(s, img).map((r) => [r.id, r.source])).toEqual([[imported[0], 'imported']]);
    s.close();
  });

  it('a re-import that replaces a ground-truth instance drops the steps that named it', () => {
    const { s, img, cat } = project();
    const [gt] = s.replaceImported(img, [{ classId: cat, mask: rect(0, 0, 10, 10), source: 'imported' }]);
    const drawn = s.createInstance(img, { classId: cat, mask: rect(20, 20, 25, 25), source: 'manual' });
    s.acceptInstances([gt]); // a step that names the imported row (it stays 'imported')
    const [again] = s.replaceImported(img, [{ classId: cat, mask: rect(0, 0, 12, 12), source: 'imported' }]);
    expect(again).not.toBe(gt);
    expect(s.undo()).toBe(true); // the drawing: the accept step went with the row it named
    expect(rows(s, img)).toEqual([{ id: again, source: 'imported', classId: cat, area: 144 }]); // gt not resurrected
    expect(s.undo()).toBe(false);
    expect(s.redo()).toBe(true);
    expect(rows(s, img).map((r) => r.id)).toEqual([drawn.id, again].sort((x, y) => x - y));
    expect(s.getImage(img).status).toBe('done');
    s.close();
  });
});

describe('undo with class deletion', () => {
  it('an edit away from a deleted class no longer wedges the stack', () => {
    const { s, img, cat, dog } = project();
    const x = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    const y = s.createInstance(img, { classId: dog, mask: rect(10, 10, 15, 15), source: 'manual' });
    s.editInstance(x.id, { classId: dog });
    s.deleteClass(cat); // x is a dog now and stays; the steps that hold a cat row cannot apply
    expect(s.undo()).toBe(true); // y's creation
    expect(rows(s, img).map((r) => [r.id, r.classId])).toEqual([[x.id, dog]]);
    expect(s.undo()).toBe(false);
    expect(s.redo()).toBe(true);
    expect(rows(s, img).map((r) => r.id)).toEqual([x.id, y.id]);
    s.close();
  });

  it('instances removed with their class are not resurrected by undo', () => {
    const { s, img, cat, dog } = project();
    const keep = s.createInstance(img, { classId: dog, mask: rect(20, 20, 25, 25), source: 'manual' });
    const z = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    s.editInstance(z.id, { mask: rect(0, 0, 8, 8) });
    s.deleteClass(cat);
    expect(s.listInstances(img).map((r) => r.id)).toEqual([keep.id]);
    expect(steps(s)).toBe(1);
    expect(s.undo()).toBe(true);
    expect(s.listInstances(img)).toEqual([]);
    expect(s.saveClass({ name: 'bird' }).id).toBeGreaterThan(0);
    expect(s.redo()).toBe(true);
    expect(s.listInstances(img).map((r) => r.id)).toEqual([keep.id]);
    s.close();
  });
});

describe('a step that cannot apply', () => {
  it('is dropped with a sentence, changes nothing, and the next undo goes on', () => {
    const { s, img, cat, dog } = project();
    const a = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    const b = s.createInstance(img, { classId: cat, mask: rect(10, 10, 15, 15), source: 'manual' });
    s.editInstance(b.id, { classId: dog });
    // A writer outside the journal (an older PeakLabel, a hand edit) changed b after the step.
    s.db.prepare('UPDATE instances SET area = 1 WHERE id = ?').run(b.id);
    const e = caught(() => s.undo());
    expect(e.code).toBe('UNDO_CONFLICT');
    expect(e.message).toMatch(new RegExp(`Cannot undo "edit": instance ${b.id} changed outside the undo history since .*Nothing was changed; that step and 1 other step on the same instances were removed from the undo history`));
    expect(e.file).toBe(s.path);
    expect(s.getInstance(b.id)).toMatchObject({ classId: dog, area: 1 }); // untouched
    expect(s.undo()).toBe(true); // a's creation
    expect(s.listInstances(img).map((r) => r.id)).toEqual([b.id]);
    expect(s.undo()).toBe(false);
    s.close();
  });

  it('whose rows cannot be written back (a class gone behind its back) is dropped, not retried forever', () => {
    const { s, img, cat, dog } = project();
    const a = s.createInstance(img, { classId: dog, mask: rect(0, 0, 5, 5), source: 'manual' });
    s.deleteInstances([a.id]);
    s.db.pragma('foreign_keys = OFF');
    s.db.prepare('DELETE FROM classes WHERE id = ?').run(dog);
    s.db.pragma('foreign_keys = ON');
    const e = caught(() => s.undo());
    expect(e.code).toBe('UNDO_CONFLICT');
    expect(e.message).toMatch(/Cannot undo "delete": its instances cannot be written back \(FOREIGN KEY constraint failed\)/);
    expect(e.message).toMatch(/that step and 1 other step on the same instances were removed/); // a's creation assumed it
    expect(s.listInstances(img)).toEqual([]);
    expect(s.undo()).toBe(false);
    expect(s.getClass(cat).name).toBe('cat');
    s.close();
  });

  it('a redo over a row someone else wrote is refused the same way', () => {
    const { s, img, cat } = project();
    const a = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    expect(s.undo()).toBe(true);
    // An old, id-reusing writer put an unrelated row at a's id.
    s.db.prepare(`INSERT INTO instances (id, image_id, class_id, rle, mask_h, mask_w, bbox_x, bbox_y, bbox_w, bbox_h, area, source, created_at, updated_at)
      VALUES (?, ?, ?, ?, 30, 40, 0, 0, 1, 1, 1, 'imported', 't', 't')`).run(a.id, img, cat, rect(0, 0, 1, 1).counts);
    expect(caught(() => s.redo()).code).toBe('UNDO_CONFLICT');
    expect(s.getInstance(a.id)).toMatchObject({ source: 'imported', area: 1 });
    expect(s.redo()).toBe(false);
    s.close();
  });
});

describe('migration to never-reused instance ids', () => {
  it('rebuilds a schema-1 file with AUTOINCREMENT, keeps rows and undo, and starts ids above every journaled one', () => {
    const path = freshPath();
    let s = ProjectStore.create(path);
    const [img] = s.insertImages([image('/a.jpg')]);
    const cat = s.saveClass({ name: 'cat' }).id;
    const a = s.createInstance(img, { classId: cat, mask: rect(0, 0, 5, 5), source: 'manual' });
    const b = s.createInstance(img, { classId: cat, mask: rect(10, 10, 15, 15), source: 'manual' });
    expect(s.undo()).toBe(true); // b is only in the journal now
    s.close();

    // Back to schema 1 as older PeakLabel wrote it: no AUTOINCREMENT, no sequence, no mark.
    const raw = new Database(path);
    const sql = (raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'instances'").pluck().get() as string);
    expect(sql).toMatch(/AUTOINCREMENT/);
    raw.exec(`${sql.replace('AUTOINCREMENT', '').replace('CREATE TABLE "instances"', 'CREATE TABLE v1').replace('CREATE TABLE instances', 'CREATE TABLE v1')};
      INSERT INTO v1 SELECT * FROM instances; DROP TABLE instances; ALTER TABLE v1 RENAME TO instances;
      CREATE INDEX instances_image ON instances(image_id); DELETE FROM sqlite_sequence; UPDATE schema_version SET version = 1;`);
    raw.pragma('application_id = 0');
    expect(raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'instances'").pluck().get()).not.toMatch(/AUTOINCREMENT/);
    raw.close();

    s = ProjectStore.open(path);
    expect(s.schemaVersion).toBe(SCHEMA_VERSION);
    expect(s.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'instances'").pluck().get()).toMatch(/AUTOINCREMENT/);
    expect(s.listInstances(img).map((r) => r.id)).toEqual([a.id]);
    const [next] = s.insertInstancesBulk(img, [{ classId: cat, mask: rect(20, 20, 25, 25), source: 'imported' }]);
    expect(next).toBeGreaterThan(b.id); // b's id is taken by the journal, not by the new row
    expect(s.redo()).toBe(true);
    expect(s.listInstances(img).map((r) => r.id)).toEqual([a.id, b.id, next]);
    s.close();
  });
});
