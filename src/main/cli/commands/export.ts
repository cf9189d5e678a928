import type { InstanceSource } from '../../../common/api';
import { PeakLabelError } from '../../../common/errors';
import { count } from '../../../common/count';
import { parseOptions, required } from '../args';
import { openSession } from '../project';
import type { CliCommand } from '../types';

const SOURCES = ['suggested', 'accepted', 'edited', 'manual', 'imported'];

export const command: CliCommand = {
  name: 'export',
  summary: 'export the project as a COCO instances file',
  usage: `usage: peaklabel export --project FILE.peaklabel --out OUT.json [--format polygon|rle] [--sources LIST]

Writes COCO instances (categories and annotation ids from 1, bbox [x,y,w,h], area = mask pixels).
  --format polygon  (default) polygons, several rings for split objects; RLE for masks with holes
  --format rle      compressed RLE strings (exact masks)
  --sources LIST    comma-separated instance sources (default accepted,edited,manual,imported)
The file is written to a temporary name and renamed: a failure leaves any previous file as it was.`,
  async run(args, ctx) {
    const { values } = parseOptions('export', args, { project: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, sources: { type: 'string' } });
    const project = required('export', 'project', values.project);
    const out = required('export', 'out', values.out);
    const format = values.format ?? 'polygon';
    if (format !== 'polygon' && format !== 'rle') throw new PeakLabelError('BAD_ARGUMENT', `export: --format must be polygon or rle, not "${format}".`);
    const sources = values.sources?.split(',').map((x) => x.trim()).filter(Boolean);
    for (const x of sources ?? []) if (!SOURCES.includes(x)) throw new PeakLabelError('BAD_ARGUMENT', `export: unknown source "${x}" (one of ${SOURCES.join(', ')}).`);
    const s = await openSession(ctx, project);
    try {
      const r = await s.api.exportCoco({ out, format, sources: sources as InstanceSource[] | undefined });
      ctx.out(`wrote ${r.path}: ${count(r.images, 'image')}, ${count(r.annotations, 'annotation')}, ${count(r.categories, 'category', 'categories')}`);
      return 0;
    } finally {
      s.close();
    }
  },
};
