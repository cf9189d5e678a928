// `peaklabel merge-coco --out coco.json PART.json…`: one COCO file from the outputs of `prelabel --shard`
// (or any COCO files of one model over different images).
import { resolve } from 'node:path';
import { PeakLabelError } from '../../../common/errors';
import { count } from '../../../common/count';
import { readCocoFile } from '../../coco/import';
import { mergeCocoParts, type CocoPart } from '../../coco/merge';
import { parseOptions, required } from '../args';
import type { CliCommand } from '../types';
import { writeJsonAtomic } from './prelabel';

export const command: CliCommand = {
  name: 'merge-coco',
  summary: 'Merge COCO files of one model (e.g. the outputs of prelabel --shard) into one',
  usage: `usage: peaklabel merge-coco --out coco.json PART.json [PART.json …]

  --out FILE      the merged COCO file: images sorted by file name, image and annotation ids renumbered
  PART.json       COCO files with the same categories and no image in common; when every part is a
                  prelabel --shard I/N output, all N shards must be given (see docs/cluster.md)`,
  async run(args, ctx) {
    const { values, positionals } = parseOptions('merge-coco', args, { out: { type: 'string' } }, true);
    const out = resolve(required('merge-coco', 'out', values.out));
    if (!positionals.length) throw new PeakLabelError('BAD_ARGUMENT', 'merge-coco needs the COCO files to merge after --out (see peaklabel merge-coco --help).');
    const parts: CocoPart[] = [];
    for (const p of positionals) {
      const file = resolve(p);
      if (file === out) throw new PeakLabelError('BAD_ARGUMENT', `${file} is both an input and --out: write the merge to a new file.`, { file });
      const { dataset, problems } = await readCocoFile(file);
      if (problems.length) throw new PeakLabelError('COCO_INVALID', `${problems[0].message} Nothing was merged${problems.length > 1 ? ` (${problems.length} problems in ${file})` : ''}.`, { file });
      parts.push({ file, dataset });
    }
    const merged = mergeCocoParts(parts);
    writeJsonAtomic(out, merged);
    ctx.out(`${count(merged.images.length, 'image')}, ${count(merged.annotations.length, 'annotation')} from ${count(parts.length, 'file')} written to ${out}${merged.info?.complete === false ? ' (some parts were incomplete: see info.failed and rerun them)' : ''}`);
    return 0;
  },
};
