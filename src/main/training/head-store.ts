// Project heads in the project file (table `heads`, migration 2): versioned rows, at most one active.
// Weights: little-endian float32, [classes, D] row-major then bias [classes].
import type { HeadSummary } from '../../common/api';
import { PeakLabelError } from '../../common/errors';
import { storeError, type ProjectStore } from '../store/project-store';

/** A head as stored: the summary (metrics) plus its weights. */
export interface StoredHead {
  summary: HeadSummary;
  classes: string[];
  weight: Float32Array;
  bias: Float32Array;
}

interface HeadDbRow {
  id: number;
  created_at: string;
  model_id: string;
  feature_dim: number;
  classes: string;
  weights: Buffer;
  metrics: string;
  active: number;
}

/** Metrics JSON: the summary without the fields that are columns. */
type StoredMetrics = Omit<HeadSummary, 'id' | 'createdAt' | 'modelId' | 'featureDim' | 'active'>;

function decode(row: HeadDbRow, store: ProjectStore): StoredHead {
  const classes = JSON.parse(row.classes) as string[];
  const D = row.feature_dim;
  const C = classes.length;
  if (row.weights.byteLength !== C * (D + 1) * 4) {
    throw new PeakLabelError('PROJECT_CORRUPT', `Head ${row.id} in ${store.path} has ${row.weights.byteLength} bytes of weights; ${C} classes × (${D}+1) float32 need ${C * (D + 1) * 4}.`, { file: store.path });
  }
  const all = new Float32Array(C * (D + 1));
  Buffer.from(all.buffer).set(row.weights);
  const metrics = JSON.parse(row.metrics) as StoredMetrics;
  return {
    summary: { ...metrics, id: row.id, createdAt: row.created_at, modelId: row.model_id, featureDim: D, active: row.active === 1 },
    classes,
    weight: all.slice(0, C * D),
    bias: all.slice(C * D),
  };
}

/** Stores a new head version and makes it the active one (one transaction). */
export function saveHead(
  store: ProjectStore,
  head: { modelId: string; featureDim: number; classes: string[]; weight: Float32Array; bias: Float32Array; metrics: StoredMetrics },
): StoredHead {
  const C = head.classes.length;
  if (head.weight.length !== C * head.featureDim || head.bias.length !== C) {
    throw new PeakLabelError('INTERNAL', `A head of ${head.weight.length} weights and ${head.bias.length} biases does not fit ${C} classes × ${head.featureDim}.`);
  }
  const all = new Float32Array(C * (head.featureDim + 1));
  all.set(head.weight);
  all.set(head.bias, C * head.featureDim);
  const id = store.transaction(() => {
    store.db.prepare('UPDATE heads SET active = 0 WHERE active = 1').run();
    const r = store.db
      .prepare('INSERT INTO heads (created_at, model_id, feature_dim, classes, weights, metrics, active) VALUES (?, ?, ?, ?, ?, ?, 1)')
      .run(new Date().toISOString(), head.modelId, head.featureDim, JSON.stringify(head.classes), Buffer.from(all.buffer), JSON.stringify(head.metrics));
    return Number(r.lastInsertRowid);
  });
  return getHead(store, id)!;
}

export function getHead(store: ProjectStore, id: number): StoredHead | null {
  try {
    const row = store.db.prepare('SELECT * FROM heads WHERE id = ?').get(id) as HeadDbRow | undefined;
    return row ? decode(row, store) : null;
  } catch (err) {
    throw err instanceof PeakLabelError ? err : storeError(err, store.path);
  }
}

/** Id of the active head (cheap: the engine checks it before every request). */
export function activeHeadId(store: ProjectStore): number | null {
  const row = store.db.prepare('SELECT id FROM heads WHERE active = 1 ORDER BY id DESC LIMIT 1').get() as { id: number } | undefined;
  return row?.id ?? null;
}

export function activeHead(store: ProjectStore): StoredHead | null {
  const id = activeHeadId(store);
  return id === null ? null : getHead(store, id);
}

export function headHistory(store: ProjectStore): { id: number; createdAt: string; mAPAfter: number | null; active: boolean }[] {
  const rows = store.db.prepare('SELECT id, created_at, metrics, active FROM heads ORDER BY id DESC').all() as Pick<HeadDbRow, 'id' | 'created_at' | 'metrics' | 'active'>[];
  return rows.map((r) => ({ id: r.id, createdAt: r.created_at, mAPAfter: (JSON.parse(r.metrics) as StoredMetrics).mAPAfter ?? null, active: r.active === 1 }));
}
