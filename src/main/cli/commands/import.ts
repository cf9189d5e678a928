import { count } from '../../../common/count';
import { parseOptions, required } from '../args';
import { openSession } from '../project';
import type { CliCommand } from '../types';

export const command: CliCommand = {
  name: 'import',
  summary: 'add folders of images to a project (referenced in place)',
  usage: `usage: peaklabel import --project FILE.peaklabel --images FOLDER [--images FOLDER]...

Adds every jpg/jpeg/png/webp/tif/tiff/bmp under each folder (recursively). The project is created
when missing. Images already in the project are skipped; duplicates (same content) and files that
cannot be read are reported, and the import goes on with the rest. Ctrl-C stops after the current
files, keeping what was imported. Exit code 3 when some files could not be imported.
  --project FILE    the project file
  --images FOLDER   a folder of images (repeatable)`,
  async run(args, ctx) {
    const { values } = parseOptions('import', args, { project: { type: 'string' }, images: { type: 'string', multiple: true } });
    const project = required('import', 'project', values.project);
    const folders = values.images ?? [];
    required('import', 'images', folders[0]);
    const s = await openSession(ctx, project, { create: true });
    // Ctrl-C cancels the running job instead of killing the process mid-write.
    const onSigint = () => { for (const id of s.ctx.jobs.running()) s.ctx.jobs.cancel(id); };
    process.on('SIGINT', onSigint);
    let failed = 0;
    try {
      for (const folder of folders) {
        const r = await s.api.addImageFolder(folder);
        for (const d of r.duplicates) ctx.err(`duplicate: ${d.path} has the same content as ${d.duplicateOf} (not added)`);
        for (const f of r.failed) ctx.err(`skipped: ${f.message}`);
        failed += r.failed.length;
        ctx.out(`${folder}: ${r.added} added, ${r.duplicates.length} duplicates, ${r.failed.length} failed${r.cancelled ? ' (cancelled)' : ''}`);
        if (r.cancelled) return 130;
      }
      const info = await s.api.currentProject();
      ctx.out(`${info?.path}: ${count(info?.imageCount ?? 0, 'image')}`);
      return failed > 0 ? 3 : 0;
    } finally {
      process.off('SIGINT', onSigint);
      s.close();
    }
  },
};
