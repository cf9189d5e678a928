// `peaklabel train`: learns a head for the project's own classes from its image tags (and the accepted
// instances as point labels), stores it in the project file and makes it the one the engine uses.
import { resolve } from 'node:path';
import type { HeadSummary } from '../../../common/api';
import { PeakLabelError } from '../../../common/errors';
import { ServiceContext } from '../../api/context';
import { createEngineMethods } from '../../api/engine-methods';
import { ProjectStore } from '../../store/project-store';
import { parseOptions, required } from '../args';
import { quitBy } from '../quit';
import type { CliCommand, CliContext } from '../types';
import { parseProvider } from './info';

export const command: CliCommand = {
  name: 'train',
  summary: "learn a class head for the project's own classes from its image tags",
  usage: `usage: peaklabel train --project P.peaklabel [--epochs N] [--no-instances] [--status] [--provider P] [--workers N] [--model DIR]

Trains a 1×1 class head by peak stimulation on the project's tagged images (an image's tags are taken as
complete: an image tagged with other classes is a negative). The backbone stays frozen; its features are
cached in <project>.cache/features/. A fifth of the tagged images (stable, by content hash) is held out
to report classification AP and, where there are accepted instances, pointwise localisation. The head
is stored in the project file and used for every suggestion method from then on. Ctrl-C cancels and
keeps the previous head.
  --epochs N       training epochs (default 30 up to 160 training images, then about 4,800 image passes, ≥ 8)
  --no-instances   do not use accepted/edited/hand-made instances as point labels
  --status         print the head in use and what training would do, without training
  --provider P, --workers N, --model DIR   as for prelabel (features are computed by the engine)`,
  async run(args, ctx) {
    const { values } = parseOptions('train', args, {
      project: { type: 'string' },
      epochs: { type: 'string' },
      'no-instances': { type: 'boolean' },
      status: { type: 'boolean' },
      provider: { type: 'string' },
      workers: { type: 'string', default: '1' },
      model: { type: 'string' },
    });
    const project = resolve(required('train', 'project', values.project));
    const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
    if (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 1 || epochs > 500)) throw new PeakLabelError('BAD_ARGUMENT', `--epochs must be a whole number from 1 to 500, not "${values.epochs}".`);
    const workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new PeakLabelError('BAD_ARGUMENT', `--workers must be a positive whole number, not "${values.workers}".`);
    const service = new ServiceContext();
    service.setProject(ProjectStore.open(project));
    const methods = createEngineMethods(service, { bundleDir: values.model, provider: parseProvider(values.provider), workers, log: (l: string) => ctx.err(l) });
    const off = service.progress.on((e) => ctx.progress(e));
    let count = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++count > 1) {
        ctx.err('Stopped at once: the previous head stays in use.');
        return quitBy(signal);
      }
      ctx.err('Cancelling the training; the previous head stays in use. Press Ctrl-C again to quit now.');
      void methods.cancelTraining();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      if (values.status) {
        const st = await methods.headStatus();
        ctx.out(st.active ? `head ${st.active.id} (${st.active.createdAt}) for ${st.active.trainedClasses.join(', ') || 'no class'}${st.applied ? ' is in use' : `: ${st.notApplied}`}` : 'no trained head: the built-in classes only');
        const inHead = new Set(st.applied && st.active ? st.active.trainedClasses : []);
        for (const c of st.readiness) {
          const now = inHead.has(c.name) ? `trained (head ${st.active!.id}, held-out AP ${pct(c.apBefore)} → ${pct(c.apAfter)})` : c.builtinMatch ? `built-in "${c.builtinMatch}"` : 'no suggestions';
          const next = c.use === 'trained' ? 'can be trained' : 'cannot be trained';
          ctx.out(`  ${c.name}: ${now}; ${next} (${c.positives} tagged, ${c.negatives} negatives, ${c.points} instances)`);
          if (c.reason) ctx.out(`    ${c.reason}`);
        }
        return 0;
      }
      const r = await methods.trainHead({ epochs, useInstances: !values['no-instances'] });
      if (r.cancelled || !r.head) {
        ctx.out('training cancelled: the previous head stays in use');
        return 130;
      }
      printHead(ctx, r.head);
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      off();
      await methods.closeEngine();
      service.close();
    }
  },
};

const pct = (v: number | null) => (v === null ? '–' : (v * 100).toFixed(1));

function printHead(ctx: CliContext, h: HeadSummary): void {
  ctx.out(`head ${h.id} stored and in use: ${h.trainedClasses.join(', ') || 'no class (built-in rows kept)'} on ${h.modelId} (D=${h.featureDim})`);
  ctx.out(`  ${h.trainImages} training images, ${h.heldOutImages} held out; ${h.featuresComputed} feature maps computed in ${h.featureSeconds.toFixed(1)} s; ${h.seconds.toFixed(1)} s in all`);
  ctx.out(`  held-out AP ${pct(h.mAPBefore)} → ${pct(h.mAPAfter)}; pointwise localisation ${pct(h.pointwiseBefore)} → ${pct(h.pointwiseAfter)}`);
  for (const c of h.classes) {
    const ap = c.apAfter !== null || c.apBefore !== null ? `, AP ${pct(c.apBefore)} → ${pct(c.apAfter)}` : '';
    const pw = c.pointwiseAfter !== null ? `, pointwise ${pct(c.pointwiseBefore)} → ${pct(c.pointwiseAfter)}` : '';
    ctx.out(`  ${c.name}: ${c.use} (${c.positives} tagged, ${c.negatives} negatives, ${c.points} instances${ap}${pw})`);
    if (c.use === 'trained' && c.initFrom) ctx.out(`    started from ${c.initFrom}${c.fineTuned ? ', only fine-tuned' : ''}`);
    if (c.reason) ctx.out(`    ${c.reason}`);
  }
}
