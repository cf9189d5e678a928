import { ServiceContext } from '../../api/context';
import { createService } from '../../api/service';
import { parseOptions, required } from '../args';
import type { CliCommand } from '../types';

export const command: CliCommand = {
  name: 'create',
  summary: 'create a new, empty project file',
  usage: `usage: peaklabel create --project FILE.peaklabel [--class NAME]...

Creates a project (one SQLite file). An existing file is never overwritten.
  --project FILE   the project file to create
  --class NAME     a class to add (repeatable, in order)`,
  async run(args, ctx) {
    const { values } = parseOptions('create', args, { project: { type: 'string' }, class: { type: 'string', multiple: true } });
    const project = required('create', 'project', values.project);
    const service = new ServiceContext();
    const api = createService(service);
    try {
      const info = await api.createProject(project);
      for (const name of values.class ?? []) await api.saveClass({ name });
      ctx.out(`created ${info.path} (schema ${info.schemaVersion})`);
      return 0;
    } finally {
      service.close();
    }
  },
};
