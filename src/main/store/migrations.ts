// Forward-only schema migrations. Migration i (1-based) brings a file from version i-1 to i; a file
// whose version is newer than the last one here was written by a newer PeakLabel and is refused.
import type Database from 'better-sqlite3';
import { PeakLabelError } from '../../common/errors';

const MIGRATIONS: string[] = [
  // 1: the first schema.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL,
    ord INTEGER NOT NULL
  );
  CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    width INTEGER NOT NULL,      -- as displayed (after EXIF orientation)
    height INTEGER NOT NULL,
    orientation INTEGER NOT NULL DEFAULT 1,  -- EXIF orientation 1..8 of the file
    file_size INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new'
      CHECK (status IN ('new','suggested','in_review','done','error','missing')),
    error TEXT,
    working_copy TEXT,           -- file name in the cache folder for huge images, else NULL
    added_at TEXT NOT NULL
  );
  CREATE INDEX images_hash ON images(hash);
  CREATE INDEX images_status ON images(status);
  CREATE TABLE thumbnails (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    jpeg BLOB NOT NULL
  );
  CREATE TABLE image_tags (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (image_id, tag)
  ) WITHOUT ROWID;
  CREATE INDEX image_tags_tag ON image_tags(tag);
  CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    rle TEXT NOT NULL,           -- COCO compressed RLE counts (column-major, pycocotools format)
    mask_h INTEGER NOT NULL,
    mask_w INTEGER NOT NULL,
    bbox_x REAL NOT NULL, bbox_y REAL NOT NULL, bbox_w REAL NOT NULL, bbox_h REAL NOT NULL,
    area INTEGER NOT NULL,
    iscrowd INTEGER NOT NULL DEFAULT 0,
    score REAL,
    source TEXT NOT NULL CHECK (source IN ('suggested','accepted','edited','manual','imported')),
    peak_x REAL, peak_y REAL,
    model_id TEXT,
    method TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX instances_image ON instances(image_id);
  CREATE TABLE undo_journal (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    before TEXT NOT NULL,        -- JSON: instance rows as they were (by id)
    after TEXT NOT NULL,         -- JSON: instance rows as they became
    undone INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  `,
  // 2: instance ids are never reused (AUTOINCREMENT), so an undo step that names an id can only meet the
  // row it wrote (docs/adr/store-undo-consistency.md). The table is rebuilt with the same columns in the
  // same order (journal snapshots are rows of it), and the counter starts above every id in the table
  // and in the journal.
  `
  CREATE TABLE instances_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    rle TEXT NOT NULL,
    mask_h INTEGER NOT NULL,
    mask_w INTEGER NOT NULL,
    bbox_x REAL NOT NULL, bbox_y REAL NOT NULL, bbox_w REAL NOT NULL, bbox_h REAL NOT NULL,
    area INTEGER NOT NULL,
    iscrowd INTEGER NOT NULL DEFAULT 0,
    score REAL,
    source TEXT NOT NULL CHECK (source IN ('suggested','accepted','edited','manual','imported')),
    peak_x REAL, peak_y REAL,
    model_id TEXT,
    method TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  INSERT INTO instances_v2 SELECT * FROM instances;
  DROP TABLE instances;
  ALTER TABLE instances_v2 RENAME TO instances;
  CREATE INDEX instances_image ON instances(image_id);
  DELETE FROM sqlite_sequence WHERE name IN ('instances', 'instances_v2');
  INSERT INTO sqlite_sequence (name, seq) SELECT 'instances', MAX(m) FROM (
    SELECT COALESCE(MAX(id), 0) AS m FROM instances
    UNION ALL SELECT COALESCE(MAX(e.value), 0) FROM undo_journal j, json_each(j.before, '$.ids') e
    UNION ALL SELECT COALESCE(MAX(e.value), 0) FROM undo_journal j, json_each(j.after, '$.ids') e
  );
  `,
  // 3: project class heads learnt by `train` (src/main/training): versioned rows, at most one active.
  // Self-contained (IF NOT EXISTS, no reference to other migrations' tables) so it can be ordered after others.
  `
  CREATE TABLE IF NOT EXISTS heads (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    model_id TEXT NOT NULL,          -- the bundle's modelId whose backbone features it was trained on
    feature_dim INTEGER NOT NULL,    -- D: weights are [classes, D] then bias [classes], little-endian float32
    classes TEXT NOT NULL,           -- JSON: class names, one per row of the weights
    weights BLOB NOT NULL,
    metrics TEXT NOT NULL,           -- JSON: split, images and tags used, per-class AP before/after, curve
    active INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS heads_active ON heads(active);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Reads the file's schema version (0 for a new, empty file). */
export function schemaVersion(db: Database.Database): number {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").get();
  if (!has) return 0;
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/** Brings the file to SCHEMA_VERSION, each step in its own transaction; refuses newer files. */
export function migrate(db: Database.Database, file: string): number {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw new PeakLabelError(
      'SCHEMA_TOO_NEW',
      `${file} was written by a newer PeakLabel (schema ${from}; this version reads up to ${SCHEMA_VERSION}): update PeakLabel to open it.`,
      { file },
    );
  }
  for (let v = from; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      if (v === 0) {
        db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v + 1);
      } else {
        db.prepare('UPDATE schema_version SET version = ?').run(v + 1);
      }
    })();
  }
  return SCHEMA_VERSION;
}
