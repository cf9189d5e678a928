import { resolve } from 'node:path';
import type { TagImportResult } from '../../../common/api';
import { PeakLabelError } from '../../../common/errors';
import { count } from '../../../common/count';
import { parseOptions, required } from '../args';
import { openSession } from '../project';
import type { CliCommand } from '../types';

const USAGE = `usage: peaklabel tags <csv|folders|coco|set> --project FILE.peaklabel [options]

Image-level tags (the weak labels the models learn from). Imports add tags, never remove them.
  tags csv     --project P --file TAGS.csv       lines "file,tag;tag" (file = name or relative path)
  tags folders --project P --root FOLDER         one sub-folder per class: root/<class>/…/image
  tags coco    --project P --coco INSTANCES.json the categories annotated in each image
  tags set     --project P --image FILE|ID [--add a,b] [--remove c]
("tags import csv …" is accepted too.)`;

export const command: CliCommand = {
  name: 'tags',
  summary: 'import or edit image-level tags (csv, folders, coco, set)',
  usage: USAGE,
  async run(argv, ctx) {
    const args = argv[0] === 'import' ? argv.slice(1) : argv;
    const [sub, ...rest] = args;
    const { values } = parseOptions('tags', rest, {
      project: { type: 'string' }, file: { type: 'string' }, root: { type: 'string' }, coco: { type: 'string' },
      image: { type: 'string', multiple: true }, add: { type: 'string' }, remove: { type: 'string' },
    });
    const project = required('tags', 'project', values.project);
    const report = (r: TagImportResult) => {
      if (r.unmatched.length) ctx.err(`${r.unmatched.length} names match no project image, e.g. ${r.unmatched.slice(0, 5).join(', ')}`);
      ctx.out(`${count(r.images, 'image')} tagged, ${count(r.tags, 'tag')} added, ${r.unmatched.length} unmatched`);
      return 0;
    };
    if (!['csv', 'folders', 'coco', 'set'].includes(sub ?? '')) throw new PeakLabelError('BAD_ARGUMENT', `tags: say which: csv, folders, coco or set.\n\n${USAGE}`);
    const s = await openSession(ctx, project);
    try {
      if (sub === 'csv') return report(await s.api.importTagsCsv(required('tags csv', 'file', values.file)));
      if (sub === 'folders') return report(await s.api.importTagsFromFolders(required('tags folders', 'root', values.root)));
      if (sub === 'coco') return report(await s.api.importTagsFromCoco(required('tags coco', 'coco', values.coco)));
      const images = values.image ?? [];
      required('tags set', 'image', images[0]);
      const byPath = s.ctx.store().imageIdsByPath();
      const ids = images.map((x) => {
        const id = /^\d+$/.test(x) ? Number(x) : byPath.get(resolve(x));
        if (id === undefined) throw new PeakLabelError('NOT_FOUND', `tags set: ${x} is not an image of the project.`);
        return id;
      });
      const list = (v?: string) => (v ?? '').split(',').map((t) => t.trim()).filter(Boolean);
      await s.api.setTags(ids, list(values.add), list(values.remove));
      for (const id of ids) ctx.out(`${(await s.api.getImage(id)).path}: ${(await s.api.getImage(id)).tags.join(';')}`);
      return 0;
    } finally {
      s.close();
    }
  },
};
