// `peaklabel eval --gt GT.json --pred PRED.json`: mAP^r at IoU 0.25/0.5/0.75, ABO and the masks' pieces and holes (src/common/eval.ts),
// printed as a table and optionally written as JSON.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PeakLabelError } from '../../../common/errors';
import { parseCoco, parseCocoResults } from '../../../common/coco/parse';
import type { CocoAnnotation, CocoDataset } from '../../../common/coco/types';
import { evaluateInstances, formatEvalTable } from '../../../common/eval';
import { parseOptions, required } from '../args';
import type { CliCommand } from '../types';

export const command: CliCommand = {
  name: 'eval',
  summary: 'Score predicted instances against ground truth: mAP^r at IoU 0.25/0.5/0.75, ABO, and pieces and holes per mask',
  usage: `peaklabel eval --gt GT.json --pred PRED.json [--classes voc20|all|name,name] [--json OUT.json]

  --gt FILE       ground truth, a COCO instances file
  --pred FILE     predictions: a COCO instances file (images matched by file name) or a results array
  --classes C     which ground-truth classes to average: all (default), voc20, or a comma-separated list
  --json FILE     also write the report as JSON`,
  async run(args, ctx) {
    const { values } = parseOptions('eval', args, { gt: { type: 'string' }, pred: { type: 'string' }, classes: { type: 'string', default: 'all' }, json: { type: 'string' } });
    const gtFile = resolve(required('eval', 'gt', values.gt));
    const predFile = resolve(required('eval', 'pred', values.pred));
    const gt = parseCoco(readJson(gtFile), gtFile);
    for (const p of gt.problems.slice(0, 5)) ctx.err(`gt: ${p.message}`);
    const predJson = readJson(predFile);
    let pred: CocoDataset | CocoAnnotation[];
    if (Array.isArray(predJson)) {
      const r = parseCocoResults(predJson, predFile, gt.dataset);
      for (const p of r.problems.slice(0, 5)) ctx.err(`pred: ${p.message}`);
      pred = r.annotations;
    } else {
      const r = parseCoco(predJson, predFile);
      for (const p of r.problems.slice(0, 5)) ctx.err(`pred: ${p.message}`);
      pred = r.dataset;
    }
    const classes = values.classes === 'all' || values.classes === 'voc20' ? values.classes : values.classes.split(',').map((s) => s.trim()).filter(Boolean);
    const report = evaluateInstances(gt.dataset, pred, { classes });
    ctx.out(formatEvalTable(report));
    if (values.json) writeFileSync(resolve(values.json), JSON.stringify(report, null, 2));
    return 0;
  },
};

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PeakLabelError('UNREADABLE', `Cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, { file });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PeakLabelError('COCO_INVALID', `${file} is not valid JSON (${(err as Error).message}).`, { file });
  }
}
