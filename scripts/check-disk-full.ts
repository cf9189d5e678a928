// Live check of the promise "a full disk gets a clear message naming the file and loses nothing already
// saved": mounts a small tmpfs, fills it, and drives the real service and CLI against it. Mounting needs
// root (or CAP_SYS_ADMIN), which CI may not have, so this is not part of `npm test`; the unit tests
// simulate the errors instead. Run: `npm run check:disk-full` (= npx tsx scripts/check-disk-full.ts).
// Exit code: 0 every check passed, 1 a check failed, 2 no tmpfs could be mounted.
import { spawnSync } from 'node:child_process';
import {
  closeSync, existsSync, ftruncateSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync,
  statfsSync, symlinkSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { PeakLabelApi, Rle } from '../src/common/api';
import { isErrorInfo, type ErrorInfo } from '../src/common/errors';
import { createMask } from '../src/common/mask';
import { seededRandom } from '../src/common/random';
import { encodeMask } from '../src/common/rle';
import { ServiceContext } from '../src/main/api/context';
import { createEngineMethods } from '../src/main/api/engine-methods';
import { createService, invokeApi } from '../src/main/api/service';
import { command as prelabelCommand } from '../src/main/cli/commands/prelabel';
import { engineSettingsFile } from '../src/main/engine/settings';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pennfudan = resolve(process.env.PEAKLABEL_SHARED ?? join(repoRoot, '..', 'shared'), 'data', 'pennfudan', 'images');
/** Small enough that each step reaches ENOSPC within a few writes, big enough for a project with thumbnails. */
const DISK_BYTES = 2 * 1024 * 1024;
const PAGE = 4096;

interface Row { step: string; expected: string; observed: string; pass: boolean }
const rows: Row[] = [];
const messages: string[] = [];

function record(step: string, expected: string, observed: string, pass: boolean): void {
  rows.push({ step, expected, observed, pass });
}

/** A failure the UI would show: DISK_FULL, with `file` as its file and in its sentence. */
function namesFile(err: ErrorInfo | null, file: string): boolean {
  return err !== null && err.code === 'DISK_FULL' && err.file === file && err.message.includes(file);
}

function describeError(err: ErrorInfo | null, file: string): string {
  if (!err) return 'no error';
  messages.push(err.message);
  return `${err.code}${err.file === file ? ', file named' : `, file ${err.file ?? 'missing'}`}${err.message.includes(file) ? ' in sentence' : ', not in sentence'}`;
}

// ---- the disk ----

function mountTmpfs(dir: string): string | null {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || r.error?.message || `mount exited with ${r.status}`).trim().split('\n')[0];
}

/** Unmounts; lazily when something still holds a file there, so the mount never outlives the check. */
function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status === 0) return;
  if (spawnSync('umount', ['-l', dir]).status !== 0) console.error(`Could not unmount ${dir}: run \`umount ${dir}\` by hand.`);
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Takes up the disk's free space with one file, leaving `leave` bytes (whole pages) free. */
class Filler {
  constructor(private readonly file: string) {}

  fill(leave = 0): void {
    const fd = openSync(this.file, 'a');
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    }
    const size = fstatSync(fd).size;
    ftruncateSync(fd, Math.max(0, size - Math.ceil(leave / PAGE) * PAGE));
    closeSync(fd);
  }

  free(): void {
    rmSync(this.file, { force: true });
  }
}

// ---- test data ----

/** A blotchy mask (4×4 blocks in a random box): a few KB of RLE, so each change writes a few pages. */
function blotchyMask(width: number, height: number, rnd: () => number): Rle {
  const m = createMask(width, height);
  const bw = Math.floor(width / 3), bh = Math.floor(height / 3);
  const x0 = Math.floor(rnd() * (width - bw)), y0 = Math.floor(rnd() * (height - bh));
  const cells = new Map<number, boolean>();
  for (let y = y0; y < y0 + bh; y++) {
    for (let x = x0; x < x0 + bw; x++) {
      const cell = (y >> 2) * 4096 + (x >> 2);
      if (!cells.has(cell)) cells.set(cell, rnd() < 0.5);
      m.data[y * width + x] = cells.get(cell) ? 1 : 0;
    }
  }
  return encodeMask(m);
}

/** A folder of symlinks to `n` Penn-Fudan images from the `from`-th (they live elsewhere, as a user's would). */
function imageFolder(dir: string, n: number, from = 0): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(pennfudan).sort().slice(from, from + n)) symlinkSync(join(pennfudan, f), join(dir, f));
  return dir;
}

async function unwrap<T>(p: Promise<{ ok: true; result: unknown } | { ok: false; error: ErrorInfo }>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`set-up failed: ${r.error.message}`);
  return r.result as T;
}

type Saved = Map<number, { imageId: number; classId: number; counts: string }>;

/** Compares the project's instances with those whose change reported success. */
async function compareSaved(api: PeakLabelApi, imageIds: number[], saved: Saved): Promise<string> {
  const found = new Map<number, { classId: number; counts: string }>();
  for (const id of imageIds) for (const inst of await api.listInstances(id)) found.set(inst.id, { classId: inst.classId, counts: inst.mask.counts });
  const missing = [...saved.keys()].filter((id) => !found.has(id)).length;
  const extra = [...found.keys()].filter((id) => !saved.has(id)).length;
  const changed = [...saved].filter(([id, s]) => found.has(id) && (found.get(id)!.counts !== s.counts || found.get(id)!.classId !== s.classId)).length;
  return missing + extra + changed === 0 ? `all ${saved.size} saved instances, nothing else` : `${missing} missing, ${changed} changed, ${extra} unexpected`;
}

// ---- the steps ----

/** (1) A project file on the full disk: edit until a write fails, then reopen and compare. */
async function projectOnFullDisk(disk: string, work: string, filler: Filler): Promise<void> {
  const file = join(disk, 'project', 'full.peaklabel');
  let ctx = new ServiceContext();
  let api = createService(ctx);
  await unwrap(invokeApi(api, 'createProject', [file]));
  await unwrap(invokeApi(api, 'addImageFolder', [imageFolder(join(work, 'images-project'), 4)]));
  const person = await api.saveClass({ name: 'person' });
  const other = await api.saveClass({ name: 'other' });
  const images = (await api.listImages({ offset: 0, limit: 100 })).items;
  const imageIds = images.map((i) => i.id);
  filler.fill(160 * 1024);
  const freeAtStart = freeBytes(disk);

  const rnd = seededRandom(1);
  const saved: Saved = new Map();
  // Keeps editing after the first failure: smaller changes may still fit, and each must either be
  // saved (and survive) or fail with DISK_FULL.
  const failures: { op: string; error: ErrorInfo }[] = [];
  let savedBeforeFirstFailure = 0;
  for (let i = 0; i < 2000 && failures.length < 6; i++) {
    const ids = [...saved.keys()];
    const im = images[i % images.length];
    let op: string;
    let r;
    if (i % 4 === 3 && ids.length) {
      const id = ids[Math.floor(rnd() * ids.length)];
      const s = saved.get(id)!;
      const target = images.find((x) => x.id === s.imageId)!;
      const edit = { mask: blotchyMask(target.width, target.height, rnd), classId: s.classId === person.id ? other.id : person.id };
      op = 'editInstance';
      r = await invokeApi(api, 'editInstance', [id, edit]);
      if (r.ok) saved.set(id, { imageId: s.imageId, classId: edit.classId, counts: edit.mask.counts });
    } else if (i % 9 === 8 && ids.length) {
      const id = ids[Math.floor(rnd() * ids.length)];
      op = 'deleteInstances';
      r = await invokeApi(api, 'deleteInstances', [[id]]);
      if (r.ok) saved.delete(id);
    } else {
      const mask = blotchyMask(im.width, im.height, rnd);
      op = 'createInstance';
      r = await invokeApi(api, 'createInstance', [im.id, person.id, mask]);
      if (r.ok) saved.set((r.result as { id: number }).id, { imageId: im.id, classId: person.id, counts: mask.counts });
    }
    if (!r.ok) failures.push({ op, error: r.error });
    else if (!failures.length) savedBeforeFirstFailure++;
  }
  const wrong = failures.filter((f) => !namesFile(f.error, file));
  const first = failures[0]?.error ?? null;
  record('1a project: edits on full disk', 'each failure DISK_FULL naming the project file',
    `${describeError(wrong[0]?.error ?? first, file)}: ${failures.length - wrong.length} of ${failures.length} failures (${[...new Set(failures.map((f) => f.op))].join(', ')}); first after ${savedBeforeFirstFailure} saved changes, ${Math.round(freeAtStart / 1024)} KB free`,
    failures.length > 0 && wrong.length === 0 && savedBeforeFirstFailure > 0);
  const more = await invokeApi(api, 'addImageFolder', [imageFolder(join(work, 'images-project-more'), 4, 4)]);
  record('1b project: import on full disk', 'DISK_FULL naming the project file', more.ok ? `no error, ${(more.result as { added: number }).added} added` : describeError(more.error, file),
    !more.ok && namesFile(more.error, file));

  // Reopen while the disk is still full (a restart of the app without freeing anything).
  ctx.close();
  ctx = new ServiceContext();
  api = createService(ctx);
  const reopened = await invokeApi(api, 'openProject', [file]);
  if (reopened.ok) {
    const same = await compareSaved(api, imageIds, saved);
    record('1c project: reopen, disk still full', `opens with all ${saved.size} saved instances`, same, same.startsWith('all '));
  } else {
    record('1c project: reopen, disk still full', `opens with all ${saved.size} saved instances`, `refused: ${describeError(reopened.error, file)}`, false);
  }
  ctx.close();

  // Free the space, reopen, compare, check the file, and save again.
  filler.free();
  ctx = new ServiceContext();
  api = createService(ctx);
  await unwrap(invokeApi(api, 'openProject', [file]));
  const same = await compareSaved(api, imageIds, saved);
  const imageCount = (await api.projectSummary()).images;
  const integrity = String(ctx.store().db.pragma('integrity_check', { simple: true }));
  record('1d project: reopen after freeing', `${imageIds.length} images, all ${saved.size} saved instances; integrity ok`, `${imageCount} images, ${same}; integrity ${integrity}`,
    imageCount === imageIds.length && same.startsWith('all ') && integrity === 'ok');
  const again = await invokeApi(api, 'createInstance', [images[0].id, person.id, blotchyMask(images[0].width, images[0].height, rnd)]);
  record('1e project: save after freeing', 'the next change saves', again.ok ? 'saved' : describeError(again.error, file), again.ok);
  ctx.close();
  rmSync(dirname(file), { recursive: true, force: true });
}

/** (2) A COCO export that cannot fit: DISK_FULL, the previous export byte-for-byte, no temp file. */
async function exportToFullDisk(disk: string, work: string, filler: Filler): Promise<void> {
  const ctx = new ServiceContext();
  const api = createService(ctx);
  await unwrap(invokeApi(api, 'createProject', [join(work, 'export.peaklabel')]));
  await unwrap(invokeApi(api, 'addImageFolder', [imageFolder(join(work, 'images-export'), 4)]));
  const person = await api.saveClass({ name: 'person' });
  const images = (await api.listImages({ offset: 0, limit: 100 })).items;
  const rnd = seededRandom(2);
  const addInstances = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const im = images[i % images.length];
      await unwrap(invokeApi(api, 'createInstance', [im.id, person.id, blotchyMask(im.width, im.height, rnd)]));
    }
  };

  const dir = join(disk, 'export');
  const out = join(dir, 'coco.json');
  mkdirSync(dir);
  await addInstances(3);
  const first = await invokeApi(api, 'exportCoco', [{ out, format: 'rle' }]);
  const before = first.ok ? readFileSync(out) : Buffer.alloc(0);
  await addInstances(200);
  const big = join(work, 'coco-full-size.json');
  await unwrap(invokeApi(api, 'exportCoco', [{ out: big, format: 'rle' }]));
  const needed = readFileSync(big).length;

  filler.fill(64 * 1024);
  const free = freeBytes(disk);
  const second = await invokeApi(api, 'exportCoco', [{ out, format: 'rle' }]);
  const error = second.ok ? null : second.error;
  record('2a export: first, small', 'written', first.ok ? `written, ${before.length} bytes` : describeError(first.error, out), first.ok);
  record('2b export: does not fit', 'DISK_FULL naming the export file',
    `${describeError(error, out)} (needs ${Math.round(needed / 1024)} KB, ${Math.round(free / 1024)} KB free)`,
    namesFile(error, out) && needed > free);
  const unchanged = existsSync(out) && readFileSync(out).equals(before);
  const left = readdirSync(dir);
  record('2c export: previous file', 'byte-for-byte unchanged', unchanged ? 'unchanged' : 'changed or gone', unchanged);
  record('2d export: temp files', 'none left', left.join(', '), left.length === 1 && left[0] === 'coco.json');
  filler.free();
  ctx.close();
  rmSync(dir, { recursive: true, force: true });
}

/** (3) engine-settings.json in a config folder on the full disk. */
async function settingsOnFullDisk(disk: string, work: string, filler: Filler): Promise<void> {
  const previousConfig = process.env.PEAKLABEL_CONFIG_DIR;
  const config = join(disk, 'config');
  process.env.PEAKLABEL_CONFIG_DIR = config;
  const ctx = new ServiceContext();
  const engine = createEngineMethods(ctx, { cacheDir: join(work, 'cache') });
  const api = createService(ctx, engine);
  try {
    const file = engineSettingsFile();
    const first = await invokeApi(api, 'saveEngineSettings', [{ maxPeaks: 7 }]);
    const before = first.ok ? readFileSync(file) : Buffer.alloc(0);
    filler.fill(0);
    const second = await invokeApi(api, 'saveEngineSettings', [{ maxPeaks: 9, peakRelThreshold: 0.3 }]);
    const error = second.ok ? null : second.error;
    const unchanged = existsSync(file) && readFileSync(file).equals(before);
    const left = readdirSync(config);
    const shown = (await api.engineSettings()).maxPeaks;
    record('3a settings: first save', 'saved', first.ok ? `saved, ${before.length} bytes` : describeError(first.error, file), first.ok);
    record('3b settings: save on full disk', 'DISK_FULL naming engine-settings.json', describeError(error, file), namesFile(error, file));
    record('3c settings: previous file', 'byte-for-byte unchanged', unchanged ? 'unchanged' : 'changed or gone', unchanged);
    record('3d settings: temp files', 'none left', left.join(', '), left.length === 1 && left[0] === 'engine-settings.json');
    record('3e settings: what the panel shows', 'the saved maxPeaks 7', `maxPeaks ${shown}`, shown === 7);
  } finally {
    await engine.closeEngine();
    ctx.close();
    filler.free();
    if (previousConfig === undefined) delete process.env.PEAKLABEL_CONFIG_DIR;
    else process.env.PEAKLABEL_CONFIG_DIR = previousConfig;
    rmSync(config, { recursive: true, force: true });
  }
}

/** (4) `peaklabel prelabel --images … --out <file on the full disk>`, rect method (no long model run). */
async function prelabelToFullDisk(disk: string, work: string, filler: Filler): Promise<void> {
  const images = imageFolder(join(work, 'images-prelabel'), 2);
  const dir = join(disk, 'prelabel');
  const out = join(dir, 'suggestions.json');
  mkdirSync(dir);
  const args = ['prelabel', '--images', images, '--out', out, '--method', 'rect'];
  filler.fill(0);
  try {
    // The command itself, in this process, for the error's code and file.
    let error: ErrorInfo | null = null;
    const quiet = { out: () => undefined, err: () => undefined, progress: () => undefined };
    try {
      await prelabelCommand.run(args.slice(1), quiet);
    } catch (err) {
      error = isErrorInfo(err) ? { code: err.code, message: err.message, file: err.file } : { code: 'INTERNAL', message: String(err) };
    }
    record('4a prelabel --out: command', 'DISK_FULL naming the --out file', describeError(error, out), namesFile(error, out));
    // The real CLI as a user runs it: exit status and the sentence on stderr.
    const cli = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), ...args], {
      encoding: 'utf8', timeout: 300_000, env: { ...process.env, PEAKLABEL_CACHE_DIR: join(work, 'cache') },
    });
    const sentence = cli.stderr.split('\n').find((l) => l.startsWith('peaklabel prelabel:')) ?? '(no error line)';
    messages.push(sentence);
    const told = cli.status === 1 && sentence.includes('disk is full') && sentence.includes(out);
    record('4b prelabel --out: CLI', 'exit 1, "disk is full" + file on stderr', `exit ${cli.status}, ${told ? 'sentence names file' : sentence}`, told);
    const left = readdirSync(dir);
    record('4c prelabel --out: files left', 'none', left.join(', ') || 'none', left.length === 0);
  } finally {
    filler.free();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A 42 MP image (over the 40 MP above which the importer caches a downscaled working copy). */
async function hugeImageFolder(dir: string, green: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await sharp({ create: { width: 7000, height: 6000, channels: 3, background: { r: 90, g: green, b: 60 } } }).png().toFile(join(dir, 'huge.png'));
  return dir;
}

/** (5) Working copies of huge images, beside a project on the full disk: at import, and rebuilt for viewing. */
async function workingCopyOnFullDisk(disk: string, work: string, filler: Filler): Promise<void> {
  const ctx = new ServiceContext();
  const api = createService(ctx);
  const file = join(disk, 'working', 'huge.peaklabel');
  try {
    await unwrap(invokeApi(api, 'createProject', [file]));
    await unwrap(invokeApi(api, 'addImageFolder', [await hugeImageFolder(join(work, 'images-huge-a'), 140)]));
    const [first] = (await api.listImages({ offset: 0, limit: 1 })).items;
    const firstCopy = ctx.store().imageSource(first.id).workingCopy!;
    const workingDir = dirname(firstCopy);
    rmSync(firstCopy); // a cleared cache: viewing the image rebuilds it
    const second = await hugeImageFolder(join(work, 'images-huge-b'), 30);
    filler.fill(0);

    const r = await invokeApi(api, 'addImageFolder', [second]);
    const error = r.ok ? (r.result as { failed: ErrorInfo[] }).failed[0] ?? null : r.error;
    const named = error?.file?.startsWith(workingDir + '/') ? error.file : workingDir;
    record('5a working copy: import', 'DISK_FULL naming the working copy', describeError(error, named), namesFile(error, named) && named !== workingDir);
    const view = await invokeApi(api, 'imagePixels', [first.id, 1024]);
    record('5b working copy: rebuild to view', 'DISK_FULL naming the working copy', view.ok ? 'no error' : describeError(view.error, firstCopy), !view.ok && namesFile(view.error, firstCopy));
    const left = readdirSync(workingDir);
    record('5c working copy: temp files', 'none left', left.join(', ') || 'none', left.length === 0);
  } finally {
    ctx.close();
    filler.free();
    rmSync(dirname(file), { recursive: true, force: true });
  }
}

// ---- main ----

function printTable(): void {
  const head: Row = { step: 'step', expected: 'expected', observed: 'observed', pass: true };
  const all = [head, ...rows];
  const w = (k: 'step' | 'expected' | 'observed') => Math.max(...all.map((r) => r[k].length));
  const line = (r: Row, verdict: string) => `${r.step.padEnd(w('step'))} | ${r.expected.padEnd(w('expected'))} | ${r.observed.padEnd(w('observed'))} | ${verdict}`;
  console.log(line(head, 'result'));
  console.log(line({ step: '-'.repeat(w('step')), expected: '-'.repeat(w('expected')), observed: '-'.repeat(w('observed')), pass: true }, '------'));
  for (const r of rows) console.log(line(r, r.pass ? 'PASS' : 'FAIL'));
  console.log('\nsentences shown:');
  for (const m of new Set(messages)) console.log(`  ${m}`);
}

async function main(): Promise<number> {
  if (!existsSync(pennfudan)) {
    console.error(`The check needs the development images in ${pennfudan} (../shared beside the repository).`);
    return 2;
  }
  const work = mkdtempSync(join(tmpdir(), 'peaklabel-disk-full-'));
  const disk = join(work, 'disk');
  mkdirSync(disk);
  process.env.PEAKLABEL_CONFIG_DIR = join(work, 'config'); // the recent-projects list stays off the small disk
  const problem = mountTmpfs(disk);
  if (problem) {
    console.error(`Cannot mount a small tmpfs at ${disk}: this check needs root or CAP_SYS_ADMIN (${problem}).`);
    rmSync(work, { recursive: true, force: true });
    return 2;
  }
  const cleanUp = () => {
    unmount(disk);
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const filler = new Filler(join(disk, 'filler'));
  try {
    console.log(`tmpfs of ${DISK_BYTES / 1024} KB at ${disk}`);
    const steps = [projectOnFullDisk, exportToFullDisk, settingsOnFullDisk, prelabelToFullDisk, workingCopyOnFullDisk];
    for (const step of steps) {
      try {
        await step(disk, work, filler);
      } catch (err) {
        record(step.name, 'runs to the end', `crashed: ${err instanceof Error ? err.message : String(err)}`, false);
        filler.free();
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanUp();
  }
  printTable();
  const failed = rows.filter((r) => !r.pass).length;
  console.log(`\n${rows.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
