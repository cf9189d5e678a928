// The API's project-head methods (trainHead, cancelTraining, headStatus) and the engine's head selection:
// before every engine request the project's active head is fed to the engine when it fits the bundle
// (same modelId and feature dimension), else the bundle's own head. The selection is independent of the
// suggestion method: every graph takes the same head inputs.
import type { HeadStatus, TrainRequest, TrainResult } from '../../common/api';
import { PeakLabelError, toErrorInfo } from '../../common/errors';
import type { ServiceContext } from '../api/context';
import type { Engine } from '../engine/engine';
import { headMismatch, type HeadOverride } from '../engine/project-head';
import type { ProjectStore } from '../store/project-store';
import { activeHead, activeHeadId, getHead, headHistory, type StoredHead } from './head-store';
import { planClasses, trainProjectHead, type TrainingState } from './trainer';

export interface TrainingMethods {
  trainHead(opts?: TrainRequest): Promise<TrainResult>;
  cancelTraining(): Promise<void>;
  headStatus(): Promise<HeadStatus>;
  /** The engine with the project's head applied (what every engine method should call). */
  withHead(store: ProjectStore, e: Engine): Promise<Engine>;
  /** Forget what was applied (the engine was closed). */
  reset(): void;
}

/** Stored heads never change, so each store keeps the last one read (engine requests check it every time). */
const lastRead = new WeakMap<ProjectStore, StoredHead>();

/** The override for a store's active head, or null with the reason it cannot be used. */
export function headOverrideFor(store: ProjectStore, e: Engine): { head: HeadOverride | null; notApplied: string | null } {
  const id = activeHeadId(store);
  if (id === null) return { head: null, notApplied: null };
  let h = lastRead.get(store);
  if (h?.summary.id !== id) {
    h = getHead(store, id)!;
    lastRead.set(store, h);
  }
  const why = headMismatch(e.baseBundle, { modelId: h.summary.modelId, featureDim: h.summary.featureDim });
  if (why) return { head: null, notApplied: `The project's head ${h.summary.id} is not used: ${why}. Train again for this model.` };
  // Rows of classes the project no longer has are left out: a row is only ever used for its own class.
  const names = new Set(store.listClasses().map((c) => c.name.trim().toLowerCase()));
  const D = h.summary.featureDim;
  const rows = h.classes.map((c, i) => ({ c, i })).filter(({ c }) => names.has(c.trim().toLowerCase()));
  const weight = new Float32Array(rows.length * D);
  const bias = new Float32Array(rows.length);
  rows.forEach(({ i }, r) => {
    weight.set(h.weight.subarray(i * D, (i + 1) * D), r * D);
    bias[r] = h.bias[i];
  });
  return {
    head: {
      key: `${store.path}#${h.summary.id}#${rows.map((r) => r.c).join('|')}`,
      modelId: h.summary.modelId,
      featureDim: D,
      classes: rows.map((r) => r.c),
      weight,
      bias,
      fineTuned: rows.map((r) => h.summary.classes.find((c) => c.name === r.c)?.fineTuned === true),
    },
    notApplied: null,
  };
}

export function createTrainingMethods(ctx: ServiceContext, engine: () => Promise<Engine>): TrainingMethods {
  let training: TrainingState | null = null;
  let running: Promise<TrainResult> | null = null;

  const withHead = async (store: ProjectStore, e: Engine): Promise<Engine> => {
    const { head } = headOverrideFor(store, e);
    const key = head?.key ?? null;
    if (e.headKey !== key) await e.setHead(head);
    return e;
  };

  return {
    withHead,
    reset() {
      // the next engine starts with the bundle's head; withHead applies the project's again
    },

    async trainHead(opts: TrainRequest = {}): Promise<TrainResult> {
      const store = ctx.store();
      if (running) throw new PeakLabelError('BAD_ARGUMENT', 'A training run is already in progress: wait for it or cancel it.');
      const e = await engine();
      const job = ctx.jobs.start('train', 0);
      const work = (async () => {
        try {
          const r = await trainProjectHead({ store, engine: e, job, request: opts, onState: (s) => (training = { ...s, curve: [...s.curve] }), progress: (ev) => ctx.progress.emit(ev) });
          job.finish(r.cancelled ? 'cancelled' : 'done', r.cancelled ? 'Training was cancelled; the previous head stays in use.' : undefined);
          if (!r.cancelled) await withHead(store, e);
          return r;
        } catch (err) {
          const info = toErrorInfo(err);
          if (info.code === 'CANCELLED') {
            job.finish('cancelled', 'Training was cancelled; the previous head stays in use.');
            return { head: null, cancelled: true };
          }
          job.finish('failed', info.message);
          throw err;
        } finally {
          training = null;
          running = null;
        }
      })();
      running = work;
      return work;
    },

    async cancelTraining(): Promise<void> {
      if (training) ctx.jobs.cancel(training.jobId);
    },

    async headStatus(): Promise<HeadStatus> {
      const store = ctx.store();
      let e: Engine | null = null;
      try {
        e = await engine();
      } catch {
        // the bundle cannot be opened: the stored heads are still listed
      }
      const active = activeHead(store);
      const over = e ? headOverrideFor(store, e) : { head: null, notApplied: active ? 'The model cannot be opened.' : null };
      const readiness = e ? planClasses(store, e.baseBundle).plans.map((p) => p.report) : [];
      // How each class is served now (the active head's rows, else the built-in rows).
      if (active && over.head) {
        for (const r of readiness) {
          const prev = active.summary.classes.find((c) => c.name.trim().toLowerCase() === r.name.trim().toLowerCase());
          if (prev) Object.assign(r, { apBefore: prev.apBefore, apAfter: prev.apAfter, pointwiseBefore: prev.pointwiseBefore, pointwiseAfter: prev.pointwiseAfter });
        }
      }
      return {
        modelId: e?.baseBundle.manifest.modelId ?? null,
        featureDim: e?.baseBundle.manifest.head.channels ?? null,
        active: active?.summary ?? null,
        applied: over.head !== null,
        notApplied: over.notApplied,
        history: headHistory(store),
        readiness,
        training: training ? { ...training, curve: [...training.curve] } : null,
      };
    },
  };
}
