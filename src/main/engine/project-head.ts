// A project's trained class head in place of the bundle's (issue 12, docs/adr/training-project-heads.md).
// The backbone, prm and iam graphs all take the head as inputs, so a project head is just another
// (weight [C,D], bias [C]) pair: the effective head keeps the bundle's rows in place (classes that match a
// trained class by name or alias get the trained row) and appends the project's new classes. Every method
// (prm, iam, and any later one built on the same head inputs) then sees the same classes.
import { PeakLabelError } from '../../common/errors';
import type { Bundle } from './bundle';
import type { ManifestClass } from './manifest';

export interface HeadOverride {
  /** Identifies the head version (project file + head id), so engines apply it once. */
  key: string;
  /** Bundle modelId and feature dimension it was trained on: it is never fed to another backbone. */
  modelId: string;
  featureDim: number;
  /** One class name per row. */
  classes: string[];
  weight: Float32Array;
  bias: Float32Array;
  /**
   * Per row: fine-tuned from a built-in row of the same concept (HeadClassReport.fineTuned). Only those
   * rows keep method sam's IAM region and second click: the IAM module was trained with the bundle's rows.
   * A row learnt from scratch reads its region from its own class response and keeps one click
   * (docs/adr/sam-prompts.md).
   */
  fineTuned: boolean[];
}

const NEW_CLASS_COLOR = '#e6194b';

function matches(c: ManifestClass, name: string): boolean {
  const t = name.trim().toLowerCase();
  return c.name.toLowerCase() === t || c.aliases.some((a) => a.toLowerCase() === t);
}

/** Why a head cannot be applied to this bundle, or null when it can. */
export function headMismatch(bundle: Bundle, head: Pick<HeadOverride, 'modelId' | 'featureDim'>): string | null {
  const m = bundle.manifest;
  if (head.modelId !== m.modelId) return `it was trained on the features of model ${head.modelId}, and the engine runs ${m.modelId}`;
  if (head.featureDim !== m.head.channels) return `it has ${head.featureDim} features per class, and model ${m.modelId} gives ${m.head.channels}`;
  return null;
}

/** The bundle as the engine sees it with `head` applied (the bundle itself when head is null). */
export function effectiveBundle(base: Bundle, head: HeadOverride | null): Bundle {
  if (!head) return base;
  const why = headMismatch(base, head);
  if (why) throw new PeakLabelError('MODEL_INVALID', `The project's class head cannot be used: ${why}.`);
  const D = base.manifest.head.channels;
  const C0 = base.manifest.classes.length;
  if (head.weight.length !== head.classes.length * D || head.bias.length !== head.classes.length) {
    throw new PeakLabelError('MODEL_INVALID', `The project's class head has ${head.weight.length} weights for ${head.classes.length} classes of ${D} features.`);
  }
  const classes: ManifestClass[] = base.manifest.classes.map((c) => ({ ...c, aliases: [...c.aliases] }));
  const rows: number[] = [];
  const peakClickRows: number[] = [];
  const extra: { name: string; row: number }[] = [];
  const weight = new Float32Array((C0 + head.classes.length) * D);
  const bias = new Float32Array(C0 + head.classes.length);
  weight.set(base.headWeight);
  bias.set(base.headBias);
  head.classes.forEach((name, r) => {
    const i = classes.findIndex((c) => matches(c, name));
    if (i >= 0) {
      weight.set(head.weight.subarray(r * D, (r + 1) * D), i * D);
      bias[i] = head.bias[r];
      rows.push(i);
      if (!head.fineTuned[r]) peakClickRows.push(i);
    } else extra.push({ name, row: r });
  });
  for (const { name, row } of extra) {
    const i = classes.length;
    classes.push({ name, aliases: [], color: NEW_CLASS_COLOR });
    weight.set(head.weight.subarray(row * D, (row + 1) * D), i * D);
    bias[i] = head.bias[row];
    rows.push(i);
    if (!head.fineTuned[row]) peakClickRows.push(i);
  }
  const C = classes.length;
  return {
    ...base,
    manifest: { ...base.manifest, classes },
    headWeight: weight.slice(0, C * D),
    headBias: bias.slice(0, C),
    imageHead: base.imageHead && withoutRows(base.imageHead, rows, D),
    projectHead: { key: head.key, rows, peakClickRows },
  };
}

/**
 * The bundle's image head without the rows a project head supplies: those rows were trained and calibrated on
 * their peak scores alone, so their class score stays that (new classes have no image row at all).
 */
function withoutRows(head: { weight: Float32Array; bias: Float32Array }, rows: number[], D: number): { weight: Float32Array; bias: Float32Array } {
  const weight = head.weight.slice();
  const bias = head.bias.slice();
  for (const r of rows) {
    if (r >= bias.length) continue;
    weight.fill(0, r * D, (r + 1) * D);
    bias[r] = 0;
  }
  return { weight, bias };
}
