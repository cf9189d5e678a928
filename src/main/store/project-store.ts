// The project: one .peaklabel SQLite file (WAL, foreign keys, versioned schema). Every public method that
// changes data runs in one transaction, so a crash leaves either the old or the new state.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, accessSync, constants } from 'node:fs';
import { basename, dirname, extname, join, sep } from 'node:path';
import type {
  ClassInfo, ImagePage, ImageQuery, ImageRow, ImageStatus, InstanceCounts, InstanceRow, InstanceSource, ProjectInfo,
  ProjectSummary, Rle, SuggestionMethod,
} from '../../common/api';
import { paletteColor } from '../../common/class-colors';
import { PeakLabelError } from '../../common/errors';
import { rleArea, rleToBbox } from '../../common/rle';
import { migrate, SCHEMA_VERSION } from './migrations';
import { checkProjectFile, markProjectFile } from './project-file';

const SOURCES: InstanceSource[] = ['suggested', 'accepted', 'edited', 'manual', 'imported'];
const STATUSES: ImageStatus[] = ['new', 'suggested', 'in_review', 'done', 'error', 'missing'];

/** An image as the importer hands it to the store. */
export interface NewImage {
  path: string;
  hash: string;
  width: number;
  height: number;
  orientation: number;
  fileSize: number;
  workingCopy: string | null;
  thumbnail: { width: number; height: number; jpeg: Uint8Array };
}

/** Everything the engine needs to read an image the way it is displayed. */
export interface ImageSource {
  id: number;
  path: string;
  width: number;
  height: number;
  orientation: number;
  /** Absolute path of the cached, already oriented, downscaled copy of a huge image (read this, not `path`). */
  workingCopy: string | null;
  status: ImageStatus;
  tags: string[];
}

export interface NewInstance {
  classId: number;
  mask: Rle;
  source: InstanceSource;
  score?: number | null;
  peak?: { x: number; y: number } | null;
  modelId?: string | null;
  method?: SuggestionMethod | null;
  iscrowd?: boolean;
}

export interface InstanceEdit {
  classId?: number;
  mask?: Rle;
}

/** One undoable batch on one image (see ProjectStore.changeInstances). */
export interface InstanceChangeSet {
  edit?: (InstanceEdit & { id: number })[];
  create?: NewInstance[];
  delete?: number[];
}

/** One image's instances for export, read straight from the table. */
export interface ExportInstanceRow {
  class_id: number;
  rle: string;
  mask_h: number;
  mask_w: number;
  bbox_x: number; bbox_y: number; bbox_w: number; bbox_h: number;
  area: number;
  iscrowd: number;
  score: number | null;
}

interface InstanceDbRow {
  id: number; image_id: number; class_id: number; rle: string; mask_h: number; mask_w: number;
  bbox_x: number; bbox_y: number; bbox_w: number; bbox_h: number; area: number; iscrowd: number;
  score: number | null; source: InstanceSource; peak_x: number | null; peak_y: number | null;
  model_id: string | null; method: SuggestionMethod | null; created_at: string; updated_at: string;
}

interface ImageDbRow {
  id: number; path: string; hash: string; width: number; height: number; orientation: number; status: ImageStatus;
  error: string | null; working_copy: string | null;
}

/** How many actions the persisted undo history keeps. */
const UNDO_DEPTH = 200;

const now = () => new Date().toISOString();

export class ProjectStore {
  readonly db: Database.Database;
  readonly path: string;
  readonly schemaVersion: number;

  private constructor(path: string, db: Database.Database, version: number) {
    this.path = path;
    this.db = db;
    this.schemaVersion = version;
  }

  /**
   * Opens (and migrates) a project; with create, a missing file becomes a new empty project. An
   * existing file that is not a PeakLabel project is refused before anything is written to it.
   */
  static open(path: string, opts: { create?: boolean } = {}): ProjectStore {
    const exists = existsSync(path);
    if (!exists && !opts.create) throw new PeakLabelError('NOT_FOUND', `${path} does not exist: create the project first.`, { file: path });
    if (exists) checkProjectFile(path);
    if (!exists) {
      try {
        mkdirSync(dirname(path), { recursive: true });
        accessSync(dirname(path), constants.W_OK);
      } catch (err) {
        throw new PeakLabelError('READ_ONLY', `Cannot create ${path}: its folder is not writable.`, { file: path, cause: err });
      }
    }
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
    } catch (err) {
      throw storeError(err, path);
    }
    try {
      const version = migrate(db, path);
      markProjectFile(db);
      return new ProjectStore(path, db, version);
    } catch (err) {
      db.close();
      throw storeError(err, path);
    }
  }

  /** Creates a new project; an existing file is refused so nothing is overwritten. */
  static create(path: string): ProjectStore {
    if (existsSync(path)) throw new PeakLabelError('BAD_ARGUMENT', `${path} already exists: open it instead of creating it.`, { file: path });
    return ProjectStore.open(path, { create: true });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs fn in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }

  /** Folder for derived files (working copies of huge images) beside the project file. */
  get cacheDir(): string {
    return `${this.path}.cache`;
  }

  /** Where working copies of huge images live (file names in images.working_copy). */
  get workingDir(): string {
    return join(this.cacheDir, 'working');
  }

  info(): ProjectInfo {
    const n = (this.db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
    return { path: this.path, name: basename(this.path, extname(this.path)), schemaVersion: SCHEMA_VERSION, imageCount: n };
  }

  summary(): ProjectSummary {
    const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<ImageStatus, number>;
    for (const r of this.db.prepare('SELECT status, COUNT(*) AS n FROM images GROUP BY status').all() as { status: ImageStatus; n: number }[]) {
      byStatus[r.status] = r.n;
    }
    const instances = emptyCounts();
    for (const r of this.db.prepare('SELECT source, COUNT(*) AS n FROM instances GROUP BY source').all() as { source: InstanceSource; n: number }[]) {
      instances[r.source] = r.n;
    }
    const images = Object.values(byStatus).reduce((a, b) => a + b, 0);
    return { images, byStatus, instances };
  }

  // ---- classes ----

  listClasses(): ClassInfo[] {
    return this.db.prepare('SELECT id, name, color, ord AS "order" FROM classes ORDER BY ord, id').all() as ClassInfo[];
  }

  getClass(id: number): ClassInfo {
    const c = this.db.prepare('SELECT id, name, color, ord AS "order" FROM classes WHERE id = ?').get(id) as ClassInfo | undefined;
    if (!c) throw new PeakLabelError('NOT_FOUND', `There is no class with id ${id}.`);
    return c;
  }

  saveClass(cls: { id?: number; name: string; color?: string; order?: number }): ClassInfo {
    return this.transaction(() => {
      const clash = this.db.prepare('SELECT id FROM classes WHERE name = ?').get(cls.name) as { id: number } | undefined;
      if (clash && clash.id !== cls.id) throw new PeakLabelError('BAD_ARGUMENT', `A class named "${cls.name}" already exists.`);
      if (cls.id !== undefined) {
        const old = this.getClass(cls.id);
        this.db.prepare('UPDATE classes SET name = ?, color = ?, ord = ? WHERE id = ?')
          .run(cls.name, cls.color ?? old.color, cls.order ?? old.order, cls.id);
        return this.getClass(cls.id);
      }
      const count = (this.db.prepare('SELECT COUNT(*) AS n, COALESCE(MAX(ord), -1) AS m FROM classes').get() as { n: number; m: number });
      const id = Number(this.db.prepare('INSERT INTO classes (name, color, ord) VALUES (?, ?, ?)')
        .run(cls.name, cls.color ?? paletteColor(count.n), cls.order ?? count.m + 1).lastInsertRowid);
      return this.getClass(id);
    });
  }

  /** The class with this name, created when missing. */
  ensureClass(name: string): ClassInfo {
    const c = this.db.prepare('SELECT id, name, color, ord AS "order" FROM classes WHERE name = ?').get(name) as ClassInfo | undefined;
    return c ?? this.saveClass({ name });
  }

  /** Deletes the class and its instances; undo steps that name those instances or the class are dropped. */
  deleteClass(id: number): void {
    this.transaction(() => {
      this.getClass(id);
      const gone = this.db.prepare('SELECT id FROM instances WHERE class_id = ?').pluck().all(id) as number[];
      this.forgetUndoOf({ instanceIds: gone, classId: id });
      this.db.prepare('DELETE FROM classes WHERE id = ?').run(id); // cascades to the instances
    });
  }

  // ---- images ----

  /** Inserts a batch of imported images with their thumbnails (one transaction). Returns their ids. */
  insertImages(images: NewImage[]): number[] {
    const insert = this.db.prepare(`INSERT INTO images (path, hash, width, height, orientation, file_size, working_copy, added_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const thumb = this.db.prepare('INSERT INTO thumbnails (image_id, width, height, jpeg) VALUES (?, ?, ?, ?)');
    return this.transaction(() => images.map((im) => {
      const id = Number(insert.run(im.path, im.hash, im.width, im.height, im.orientation, im.fileSize, im.workingCopy, now()).lastInsertRowid);
      thumb.run(id, im.thumbnail.width, im.thumbnail.height, im.thumbnail.jpeg);
      return id;
    }));
  }

  /** Path → id of every image (the importer skips known paths). */
  imageIdsByPath(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.db.prepare('SELECT id, path FROM images').iterate() as Iterable<{ id: number; path: string }>) m.set(r.path, r.id);
    return m;
  }

  /** Content hash → path of every image (duplicate detection). */
  pathsByHash(): Map<string, string> {
    const m = new Map<string, string>();
    for (const r of this.db.prepare('SELECT hash, path FROM images').iterate() as Iterable<{ hash: string; path: string }>) m.set(r.hash, r.path);
    return m;
  }

  listImages(q: ImageQuery): ImagePage {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.status) { where.push('i.status = ?'); params.push(q.status); }
    if (q.tag) { where.push('EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.tag = ?)'); params.push(q.tag); }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM images i ${w}`).get(...params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT i.* FROM images i ${w} ORDER BY i.path LIMIT ? OFFSET ?`).all(...params, q.limit, q.offset) as ImageDbRow[];
    return { total, items: rows.map((r) => this.toImageRow(r)) };
  }

  getImage(id: number): ImageRow {
    return this.toImageRow(this.imageRow(id));
  }

  imageSource(id: number): ImageSource {
    const r = this.imageRow(id);
    return { id: r.id, path: r.path, width: r.width, height: r.height, orientation: r.orientation, workingCopy: r.working_copy ? join(this.workingDir, r.working_copy) : null, status: r.status, tags: this.tagsOf(id) };
  }

  /** Images whose suggestions are still to be made (status new), or all/the given ones with force. */
  imagesNeedingSuggestions(opts: { imageIds?: number[]; force?: boolean } = {}): ImageSource[] {
    let ids: number[];
    if (opts.imageIds) {
      ids = opts.imageIds.filter((id) => opts.force || this.imageRow(id).status === 'new');
    } else {
      const sql = opts.force ? "SELECT id FROM images WHERE status != 'missing' ORDER BY id" : "SELECT id FROM images WHERE status = 'new' ORDER BY id";
      ids = (this.db.prepare(sql).all() as { id: number }[]).map((r) => r.id);
    }
    return ids.map((id) => this.imageSource(id));
  }

  thumbnail(id: number): { width: number; height: number; jpeg: Uint8Array } {
    const r = this.db.prepare('SELECT width, height, jpeg FROM thumbnails WHERE image_id = ?').get(id) as { width: number; height: number; jpeg: Buffer } | undefined;
    if (!r) throw new PeakLabelError('NOT_FOUND', `There is no image with id ${id}.`);
    return { width: r.width, height: r.height, jpeg: new Uint8Array(r.jpeg.buffer, r.jpeg.byteOffset, r.jpeg.byteLength) };
  }

  setImageStatus(ids: number[], status: ImageStatus, error: string | null = null): void {
    const st = this.db.prepare('UPDATE images SET status = ?, error = ? WHERE id = ?');
    this.transaction(() => {
      for (const id of ids) {
        if (st.run(status, error, id).changes === 0) throw new PeakLabelError('NOT_FOUND', `There is no image with id ${id}.`);
      }
    });
  }

  /** Points images under oldFolder at newFolder (moved data); returns how many moved. */
  relinkFolder(oldFolder: string, newFolder: string): number {
    const from = oldFolder.endsWith(sep) ? oldFolder : oldFolder + sep;
    const to = newFolder.endsWith(sep) ? newFolder : newFolder + sep;
    const rows = this.db.prepare('SELECT id, path FROM images WHERE substr(path, 1, ?) = ?').all(from.length, from) as { id: number; path: string }[];
    const st = this.db.prepare("UPDATE images SET path = ?, status = CASE WHEN status = 'missing' THEN 'new' ELSE status END WHERE id = ?");
    this.transaction(() => { for (const r of rows) st.run(to + r.path.slice(from.length), r.id); });
    return rows.length;
  }

  private imageRow(id: number): ImageDbRow {
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageDbRow | undefined;
    if (!r) throw new PeakLabelError('NOT_FOUND', `There is no image with id ${id}.`);
    return r;
  }

  private toImageRow(r: ImageDbRow): ImageRow {
    const counts = emptyCounts();
    for (const c of this.db.prepare('SELECT source, COUNT(*) AS n FROM instances WHERE image_id = ? GROUP BY source').all(r.id) as { source: InstanceSource; n: number }[]) {
      counts[c.source] = c.n;
    }
    return { id: r.id, path: r.path, fileName: basename(r.path), width: r.width, height: r.height, status: r.status, error: r.error, tags: this.tagsOf(r.id), counts };
  }

  // ---- tags ----

  tagsOf(imageId: number): string[] {
    return (this.db.prepare('SELECT tag FROM image_tags WHERE image_id = ? ORDER BY tag').all(imageId) as { tag: string }[]).map((r) => r.tag);
  }

  setTags(imageIds: number[], add: string[], remove: string[]): void {
    const ins = this.db.prepare('INSERT OR IGNORE INTO image_tags (image_id, tag) VALUES (?, ?)');
    const del = this.db.prepare('DELETE FROM image_tags WHERE image_id = ? AND tag = ?');
    this.transaction(() => {
      for (const id of imageIds) {
        this.imageRow(id);
        for (const t of remove) del.run(id, t);
        for (const t of add) ins.run(id, t);
      }
    });
  }

  /** Adds tags to many images in one transaction: [imageId, tags][]. Returns the number of new tags. */
  addTagsBulk(entries: [number, string[]][]): number {
    const ins = this.db.prepare('INSERT OR IGNORE INTO image_tags (image_id, tag) VALUES (?, ?)');
    return this.transaction(() => {
      let n = 0;
      for (const [id, tags] of entries) for (const t of tags) n += ins.run(id, t).changes;
      return n;
    });
  }

  // ---- instances ----

  listInstances(imageId: number): InstanceRow[] {
    this.imageRow(imageId);
    return (this.db.prepare('SELECT * FROM instances WHERE image_id = ? ORDER BY id').all(imageId) as InstanceDbRow[]).map(toInstanceRow);
  }

  getInstance(id: number): InstanceRow {
    return toInstanceRow(this.instanceRow(id));
  }

  /** A user-drawn instance (undoable). */
  createInstance(imageId: number, inst: NewInstance): InstanceRow {
    return this.journaled('create', [], () => {
      this.imageRow(imageId);
      const id = this.insertInstance(imageId, inst);
      return { ids: [id], result: this.getInstance(id) };
    });
  }

  /** Changes class and/or mask; an edited suggestion becomes 'edited' (undoable). */
  editInstance(id: number, edit: InstanceEdit): InstanceRow {
    return this.journaled('edit', [id], () => {
      this.updateInstance(this.instanceRow(id), edit);
      return { ids: [id], result: this.getInstance(id) };
    });
  }

  /**
   * Edits, creates and deletes instances of one image as one undoable action (a split, a merge): all
   * of it or, on any failure, none. Undo restores the edited and deleted instances with their ids.
   */
  changeInstances(imageId: number, changes: InstanceChangeSet): { edited: InstanceRow[]; created: InstanceRow[] } {
    const edits = changes.edit ?? [], creates = changes.create ?? [], deletes = changes.delete ?? [];
    const touched = [...edits.map((e) => e.id), ...deletes];
    if (new Set(touched).size !== touched.length) {
      throw new PeakLabelError('BAD_ARGUMENT', 'Each instance may be edited or deleted only once in one change.');
    }
    if (!touched.length && !creates.length) return { edited: [], created: [] };
    return this.journaled('change', touched, () => {
      this.imageRow(imageId);
      const ofImage = (id: number) => {
        const r = this.instanceRow(id);
        if (r.image_id !== imageId) throw new PeakLabelError('BAD_ARGUMENT', `Instance ${id} belongs to image ${r.image_id}, not to image ${imageId}.`);
        return r;
      };
      for (const e of edits) this.updateInstance(ofImage(e.id), e);
      const createdIds = creates.map((c) => this.insertInstance(imageId, c));
      const del = this.db.prepare('DELETE FROM instances WHERE id = ?');
      for (const id of deletes) del.run(ofImage(id).id);
      const result = { edited: edits.map((e) => this.getInstance(e.id)), created: createdIds.map((id) => this.getInstance(id)) };
      return { ids: createdIds, result };
    });
  }

  /** Accepts suggestions as they are (undoable); other sources are left alone. */
  acceptInstances(ids: number[]): void {
    this.journaled('accept', ids, () => {
      for (const id of ids) this.instanceRow(id);
      const st = this.db.prepare("UPDATE instances SET source = 'accepted', updated_at = ? WHERE id = ? AND source = 'suggested'");
      const t = now();
      for (const id of ids) st.run(t, id);
      return { ids, result: undefined };
    });
  }

  deleteInstances(ids: number[]): void {
    this.journaled('delete', ids, () => {
      for (const id of ids) this.instanceRow(id);
      const st = this.db.prepare('DELETE FROM instances WHERE id = ?');
      for (const id of ids) st.run(id);
      return { ids, result: undefined };
    });
  }

  /**
   * Replaces an image's suggestions (source 'suggested') with new ones and marks the image
   * 'suggested', in one transaction. Accepted/edited/manual/imported instances are kept. A bulk job is
   * not an undo step: the steps that named the removed suggestions are dropped instead.
   */
  replaceSuggestions(imageId: number, suggestions: Omit<NewInstance, 'source'>[]): number[] {
    return this.transaction(() => {
      this.imageRow(imageId);
      const gone = this.db.prepare("DELETE FROM instances WHERE image_id = ? AND source = 'suggested' RETURNING id").pluck().all(imageId) as number[];
      this.forgetUndoOf({ instanceIds: gone });
      const ids = suggestions.map((s) => this.insertInstance(imageId, { ...s, source: 'suggested' }));
      this.db.prepare("UPDATE images SET status = 'suggested', error = NULL WHERE id = ?").run(imageId);
      return ids;
    });
  }

  /**
   * Inserts many instances without journaling (COCO import). New ids never take one an undo step names
   * (AUTOINCREMENT), so no step can later delete or overwrite them.
   */
  insertInstancesBulk(imageId: number, list: NewInstance[]): number[] {
    return this.transaction(() => list.map((inst) => this.insertInstance(imageId, inst)));
  }

  /**
   * Ground truth for one image (COCO import): its previous 'imported' instances are replaced and the
   * image is 'done'. Undo steps that named the replaced instances are dropped.
   */
  replaceImported(imageId: number, list: NewInstance[]): number[] {
    return this.transaction(() => {
      this.imageRow(imageId);
      const gone = this.db.prepare("DELETE FROM instances WHERE image_id = ? AND source = 'imported' RETURNING id").pluck().all(imageId) as number[];
      this.forgetUndoOf({ instanceIds: gone });
      const ids = this.insertInstancesBulk(imageId, list);
      this.db.prepare("UPDATE images SET status = 'done', error = NULL WHERE id = ?").run(imageId);
      return ids;
    });
  }

  /** Undoes the last journaled action; false when there is nothing to undo. */
  undo(): boolean {
    return this.step('undo');
  }

  /** Redoes the last undone action; false when there is nothing to redo. */
  redo(): boolean {
    return this.step('redo');
  }

  // ---- export ----

  /** Ids of the images to export, in path order (ids depend on which import decode finished first). */
  exportImageIds(filter: { statuses?: ImageStatus[]; imageIds?: number[] } = {}): number[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.statuses?.length) { where.push(`status IN (${filter.statuses.map(() => '?').join(',')})`); params.push(...filter.statuses); }
    if (filter.imageIds) { where.push(`id IN (SELECT value FROM json_each(?))`); params.push(JSON.stringify(filter.imageIds)); }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.db.prepare(`SELECT id FROM images ${w} ORDER BY path, id`).pluck().all(...params) as number[];
  }

  /**
   * Path and size of the given images, in the given order. Callers page through ids rather than hold an
   * iterator across awaits: an open iterator would make every other write on this connection fail.
   */
  imagesByIds(ids: number[]): { id: number; path: string; width: number; height: number }[] {
    return this.db.prepare(`SELECT i.id, i.path, i.width, i.height FROM json_each(?) j JOIN images i ON i.id = j.value ORDER BY j.key`)
      .all(JSON.stringify(ids)) as { id: number; path: string; width: number; height: number }[];
  }

  /** Instances of one image with the given sources, in id order (a prepared statement per call site). */
  exportInstancesReader(sources: InstanceSource[]): (imageId: number) => ExportInstanceRow[] {
    const st = this.db.prepare(`SELECT class_id, rle, mask_h, mask_w, bbox_x, bbox_y, bbox_w, bbox_h, area, iscrowd, score FROM instances
      WHERE image_id = ? AND source IN (${sources.map(() => '?').join(',')}) ORDER BY id`);
    return (imageId) => st.all(imageId, ...sources) as ExportInstanceRow[];
  }

  // ---- internals ----

  private insertInstance(imageId: number, inst: NewInstance): number {
    const m = maskColumns(inst.mask);
    const t = now();
    return Number(this.db.prepare(`INSERT INTO instances (image_id, class_id, rle, mask_h, mask_w, bbox_x, bbox_y, bbox_w, bbox_h, area, iscrowd,
      score, source, peak_x, peak_y, model_id, method, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
      .run(imageId, inst.classId, m.rle, m.h, m.w, ...m.bbox, m.area, inst.iscrowd ? 1 : 0, inst.score ?? null, inst.source,
        inst.peak?.x ?? null, inst.peak?.y ?? null, inst.modelId ?? null, inst.method ?? null, t, t).lastInsertRowid);
  }

  /** Writes one edit (caller journals); a hand-made instance stays 'manual', any other becomes 'edited'. */
  private updateInstance(old: InstanceDbRow, edit: InstanceEdit): void {
    const classId = edit.classId ?? old.class_id;
    this.getClass(classId);
    const t = now();
    const source: InstanceSource = old.source === 'manual' ? 'manual' : 'edited';
    if (edit.mask) {
      const m = maskColumns(edit.mask);
      this.db.prepare(`UPDATE instances SET class_id = ?, rle = ?, mask_h = ?, mask_w = ?, bbox_x = ?, bbox_y = ?, bbox_w = ?, bbox_h = ?,
        area = ?, source = ?, updated_at = ? WHERE id = ?`).run(classId, m.rle, m.h, m.w, ...m.bbox, m.area, source, t, old.id);
    } else {
      this.db.prepare('UPDATE instances SET class_id = ?, source = ?, updated_at = ? WHERE id = ?').run(classId, source, t, old.id);
    }
  }

  private instanceRow(id: number): InstanceDbRow {
    const r = this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as InstanceDbRow | undefined;
    if (!r) throw new PeakLabelError('NOT_FOUND', `There is no instance with id ${id}.`);
    return r;
  }

  private snapshot(ids: number[]): Snapshot {
    const st = this.db.prepare('SELECT * FROM instances WHERE id = ?');
    return { ids, rows: ids.map((id) => st.get(id) as InstanceDbRow | undefined).filter((r): r is InstanceDbRow => !!r) };
  }

  /**
   * One undo or redo, written only over the rows the step wrote. When a row it names is no longer as
   * the step left it (changed by a writer that predates this check, or by hand) or its snapshot cannot
   * be written back (say, its class is gone), nothing changes: the step and every other step naming
   * those rows leave the journal, and UNDO_CONFLICT says so. The next undo goes on from the step before,
   * so one bad step never wedges the history.
   */
  private step(direction: 'undo' | 'redo'): boolean {
    const outcome = this.transaction((): boolean | PeakLabelError => {
      const e = this.db.prepare(direction === 'undo'
        ? 'SELECT id, label, before, after FROM undo_journal WHERE undone = 0 ORDER BY id DESC LIMIT 1'
        : 'SELECT id, label, before, after FROM undo_journal WHERE undone = 1 ORDER BY id ASC LIMIT 1').get() as JournalEntry | undefined;
      if (!e) return false;
      const [expected, target] = (direction === 'undo' ? [e.after, e.before] : [e.before, e.after]).map((j) => JSON.parse(j) as Snapshot);
      const changed = this.changedSince(expected);
      let why = `instance${changed.length > 1 ? 's' : ''} ${changed.join(', ')} changed outside the undo history since (by an older PeakLabel or another program)`;
      if (!changed.length) {
        try {
          this.db.transaction(() => this.applySnapshot(target))(); // a savepoint: a failure leaves no partial write
          this.db.prepare('UPDATE undo_journal SET undone = ? WHERE id = ?').run(direction === 'undo' ? 1 : 0, e.id);
          return true;
        } catch (err) {
          why = `its instances cannot be written back (${(err as Error).message})`;
        }
      }
      this.db.prepare('DELETE FROM undo_journal WHERE id = ?').run(e.id);
      // The steps on the same rows assume the state this one could not reach: they go too.
      const others = this.forgetUndoOf({ instanceIds: changed.length ? changed : expected.ids });
      return new PeakLabelError('UNDO_CONFLICT',
        `Cannot ${direction} "${e.label}": ${why}. Nothing was changed; that step` +
        `${others ? ` and ${others} other step${others > 1 ? 's' : ''} on the same instances were` : ' was'} removed from the undo history.`,
        { file: this.path });
    });
    if (outcome instanceof PeakLabelError) throw outcome;
    return outcome;
  }

  /** Ids in the snapshot whose row differs from it now (present, absent or different). */
  private changedSince(s: Snapshot): number[] {
    const st = this.db.prepare('SELECT * FROM instances WHERE id = ?');
    const recorded = new Map(s.rows.map((r) => [r.id, JSON.stringify(r)]));
    return s.ids.filter((id) => {
      const now = st.get(id);
      return now === undefined ? recorded.has(id) : JSON.stringify(now) !== recorded.get(id);
    });
  }

  /**
   * Drops every undo and redo step that names one of these instances or holds a row of this class.
   * Writers that are not undo steps call it for what they delete, so no step can later write over rows
   * it did not write, or fail for a class that is gone. Returns how many steps were dropped.
   */
  private forgetUndoOf(what: { instanceIds?: number[]; classId?: number }): number {
    let n = 0;
    if (what.instanceIds?.length) {
      n += this.db.prepare(`DELETE FROM undo_journal WHERE id IN (SELECT j.id FROM undo_journal j, json_each(j.before, '$.ids') e
        WHERE e.value IN (SELECT value FROM json_each(?)))`).run(JSON.stringify(what.instanceIds)).changes;
    }
    if (what.classId !== undefined) {
      n += this.db.prepare(`DELETE FROM undo_journal WHERE id IN (
        SELECT j.id FROM undo_journal j, json_each(j.before, '$.rows') r WHERE json_extract(r.value, '$.class_id') = @c
        UNION SELECT j.id FROM undo_journal j, json_each(j.after, '$.rows') r WHERE json_extract(r.value, '$.class_id') = @c)`).run({ c: what.classId }).changes;
    }
    return n;
  }

  /** Sets each instance named in the snapshot to its recorded state (absent = deleted). */
  private applySnapshot(s: Snapshot): void {
    const del = this.db.prepare('DELETE FROM instances WHERE id = ?');
    for (const id of s.ids) del.run(id);
    for (const r of s.rows) {
      const cols = Object.keys(r);
      this.db.prepare(`INSERT INTO instances (${cols.join(',')}) VALUES (${cols.map((c) => '@' + c).join(',')})`).run(r);
    }
  }

  /**
   * Runs one undoable user action in one transaction: snapshots the instances it touches before
   * (existing ids, known up front) and after (plus any it created), and drops the redo stack.
   */
  private journaled<T>(label: string, existingIds: number[], action: () => { ids: number[]; result: T }): T {
    return this.transaction(() => {
      const before = this.snapshot(existingIds);
      const { ids, result } = action();
      const all = [...new Set([...existingIds, ...ids])];
      const after = this.snapshot(all);
      this.db.prepare('DELETE FROM undo_journal WHERE undone = 1').run();
      this.db.prepare('INSERT INTO undo_journal (label, before, after, created_at) VALUES (?, ?, ?, ?)')
        .run(label, JSON.stringify({ ids: all, rows: before.rows }), JSON.stringify(after), now());
      this.db.prepare('DELETE FROM undo_journal WHERE id <= (SELECT MAX(id) FROM undo_journal) - ?').run(UNDO_DEPTH);
      return result;
    });
  }
}

interface Snapshot {
  ids: number[];
  rows: InstanceDbRow[];
}

interface JournalEntry {
  id: number;
  label: string;
  before: string;
  after: string;
}

function emptyCounts(): InstanceCounts {
  return Object.fromEntries(SOURCES.map((s) => [s, 0])) as unknown as InstanceCounts;
}

function maskColumns(mask: Rle): { rle: string; h: number; w: number; bbox: [number, number, number, number]; area: number } {
  return { rle: mask.counts, h: mask.size[0], w: mask.size[1], bbox: rleToBbox(mask), area: rleArea(mask) };
}

function toInstanceRow(r: InstanceDbRow): InstanceRow {
  return {
    id: r.id, imageId: r.image_id, classId: r.class_id, mask: { size: [r.mask_h, r.mask_w], counts: r.rle },
    bbox: [r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h], area: r.area, score: r.score, source: r.source,
    peak: r.peak_x === null || r.peak_y === null ? null : { x: r.peak_x, y: r.peak_y },
    modelId: r.model_id, method: r.method, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** SQLite failures as PeakLabel errors naming the project file. */
export function storeError(err: unknown, file: string): unknown {
  if (err instanceof PeakLabelError) return err;
  const code = (err as { code?: string }).code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_FULL') return new PeakLabelError('DISK_FULL', `The disk holding ${file} is full: the last change was not saved.`, { file, cause: err });
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY')) return new PeakLabelError('READ_ONLY', `${file} is read-only: the change was not saved.`, { file, cause: err });
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return new PeakLabelError('PROJECT_CORRUPT', `${file} is not a PeakLabel project or is damaged (${msg}).`, { file, cause: err });
  if (code === 'SQLITE_CANTOPEN') return new PeakLabelError('UNREADABLE', `Cannot open ${file} (${msg}).`, { file, cause: err });
  return err;
}
