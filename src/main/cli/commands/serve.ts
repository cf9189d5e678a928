import { existsSync } from 'node:fs';
import { PeakLabelError } from '../../../common/errors';
import { engineSettingsCheck } from '../../api/validate';
import { startBridge } from '../../bridge/server';
import { readSavedEngineSettings } from '../../engine/settings';
import { parseOptions } from '../args';
import type { CliCommand } from '../types';

export const command: CliCommand = {
  name: 'serve',
  summary: 'serve the UI and the API on 127.0.0.1 for a browser (development, tests)',
  usage: `usage: peaklabel serve [--port N] [--project FILE.peaklabel] [--static DIR] [--no-engine]

Serves the built renderer (npm run build; default out/renderer) at / and the API over a WebSocket at
/api, on 127.0.0.1 only, until Ctrl-C. Prints the URL to open: it carries a secret token made for this
launch, and the page and the API refuse requests without it or for another host name.
  --port N       port (default 0: a free one)
  --project F    open this project at start
  --static DIR   the built renderer folder
  --no-engine    do not load the model bundle`,
  async run(args, ctx) {
    const { values } = parseOptions('serve', args, { port: { type: 'string' }, project: { type: 'string' }, static: { type: 'string' }, 'no-engine': { type: 'boolean' } });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new PeakLabelError('BAD_ARGUMENT', `serve: --port must be a port number, not "${values.port}".`);
    if (values.static && !existsSync(values.static)) throw new PeakLabelError('NOT_FOUND', `serve: the folder ${values.static} does not exist.`, { file: values.static });
    const engine = values['no-engine'] ? undefined : (await import('../../api/engine-methods')).engineFactory();
    if (engine) {
      // The page shows it too (engineInfo); a terminal user should not have to open it to learn this.
      const { warning } = readSavedEngineSettings(engineSettingsCheck);
      if (warning) ctx.err(`warning: ${warning.message}`);
    }
    const bridge = await startBridge({ port, projectPath: values.project, staticDir: values.static, engine });
    ctx.out(bridge.url);
    await new Promise<void>((done) => {
      const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); done(); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await bridge.close();
    return 0;
  },
};
