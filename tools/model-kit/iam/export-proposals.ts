// Exports the engine's segment proposals (and the exact model-input RGB they come from) for IAM training,
// so the Python side picks pseudo masks from the same proposals the app retrieves from.
//
//   npx tsx tools/model-kit/iam/export-proposals.ts --list LIST.json --out DIR [--manifest resources/models/manifest.json]
//
// LIST.json: [{ "set": "pennfudan", "file": "/abs/path.png", "id": 3 }, ...] (written by iam/data.py).
// One file per image, DIR/<set>/<id>.plpr:
//   "PLIAM1\n" + JSON header line { width, height, origWidth, origHeight, gridWidth, gridHeight, lengths }
//   + the RGB bytes at model input size (width·height·3) + zero padding to 4 bytes
//   + Int32 little-endian run lists, alternating mask runs and contour runs of each proposal
//     (runs are flat (y, x0, x1) triples on the proposal grid, x1 exclusive — src/common/proposals/spans.ts).
// Existing files are kept (delete DIR to regenerate).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateProposals } from '../../../src/common/proposals';
import { parseManifest } from '../../../src/main/engine/manifest';
import { decodeOriented, preprocess } from '../../../src/main/engine/preprocess';

interface Item {
  set: string;
  file: string;
  id: string;
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  if (fallback !== undefined) return fallback;
  throw new Error(`missing --${name} (usage: export-proposals.ts --list LIST.json --out DIR [--manifest FILE])`);
}

async function main(): Promise<void> {
  const list = JSON.parse(readFileSync(arg('list'), 'utf8')) as Item[];
  const out = arg('out');
  const manifestFile = arg('manifest', 'resources/models/manifest.json');
  const manifest = parseManifest(JSON.parse(readFileSync(manifestFile, 'utf8')), manifestFile);
  const t0 = performance.now();
  let done = 0;
  for (const item of list) {
    const file = join(out, item.set, `${item.id}.plpr`);
    done++;
    if (existsSync(file)) continue;
    const img = await decodeOriented(item.file, item.file);
    const pre = await preprocess(img, manifest);
    const proposals = generateProposals(pre.rgb);
    const grid = proposals[0]?.mask ?? { width: 0, height: 0 };
    const parts = proposals.flatMap((p) => [p.mask.runs, p.contour]);
    const header = {
      width: pre.geometry.width,
      height: pre.geometry.height,
      origWidth: pre.geometry.origWidth,
      origHeight: pre.geometry.origHeight,
      gridWidth: grid.width,
      gridHeight: grid.height,
      lengths: parts.map((a) => a.length),
    };
    const head = Buffer.from('PLIAM1\n' + JSON.stringify(header) + '\n');
    const rgb = Buffer.from(pre.rgb.data.buffer, pre.rgb.data.byteOffset, pre.rgb.data.byteLength);
    const pad = Buffer.alloc((4 - ((head.length + rgb.length) % 4)) % 4);
    const body = new Int32Array(parts.reduce((n, a) => n + a.length, 0));
    let off = 0;
    for (const a of parts) {
      body.set(a, off);
      off += a.length;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, Buffer.concat([head, rgb, pad, Buffer.from(body.buffer)]));
    renameSync(`${file}.tmp`, file);
    const s = (performance.now() - t0) / 1000;
    console.log(`${done}/${list.length} ${item.set}/${item.id}: ${proposals.length} proposals (${s.toFixed(0)} s)`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
