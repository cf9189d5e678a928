import { PeakLabelError } from '../../../common/errors';
import { count } from '../../../common/count';
import { parseOptions, required } from '../args';
import { openSession } from '../project';
import type { CliCommand } from '../types';

export const command: CliCommand = {
  name: 'import-coco',
  summary: 'import COCO instance annotations (ground truth or prior labels)',
  usage: `usage: peaklabel import-coco --project FILE.peaklabel --coco INSTANCES.json [--as ground_truth|prior]

Matches the COCO images to project images by file_name (import the images first) and adds their
annotations: polygons, RLE (string or list counts) and crowd regions. Categories become classes.
  --as ground_truth  (default) instances marked imported, images marked done
  --as prior         instances become suggestions to review
Bad items (dangling ids, odd-length polygons, wrong RLE sizes, unknown images) are reported and
skipped; the rest is imported in one transaction. Importing again replaces the previous import.`,
  async run(args, ctx) {
    const { values } = parseOptions('import-coco', args, { project: { type: 'string' }, coco: { type: 'string' }, as: { type: 'string' } });
    const project = required('import-coco', 'project', values.project);
    const coco = required('import-coco', 'coco', values.coco);
    const as = values.as ?? 'ground_truth';
    if (as !== 'ground_truth' && as !== 'prior') throw new PeakLabelError('BAD_ARGUMENT', `import-coco: --as must be ground_truth or prior, not "${as}".`);
    const s = await openSession(ctx, project);
    try {
      const r = await s.api.importCoco(coco, as);
      for (const p of r.skipped) ctx.err(`skipped: ${p.message}`);
      ctx.out(`${coco}: ${count(r.images, 'image')}, ${count(r.instances, 'instance')}, ${count(r.categories, 'category', 'categories')} imported as ${as}; ${count(r.skipped.length, 'problem')}`);
      return 0;
    } finally {
      s.close();
    }
  },
};
