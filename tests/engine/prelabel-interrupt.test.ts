// Ctrl-C on a real CLI process (a real SIGINT to `node bin/peaklabel.mjs prelabel …`): the first one lets
// the images in progress finish and be saved, then the process exits on its own and names them; a rerun
// does the rest. A second Ctrl-C quits at once.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, sharedPath, testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('engine-interrupt');
const images = join(root, 'images');
const COUNT = 14;
const bin = join(repoRoot, 'bin', 'peaklabel.mjs');
const env = { ...process.env, PEAKLABEL_CACHE_DIR: join(root, 'cache') };

interface Running {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<number | null>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  // A process killed by SIGINT is what a shell reports as exit status 130.
  const exit = new Promise<number | null>((res) => child.on('exit', (code, signal) => res(signal === 'SIGINT' ? 130 : code)));
  return { child, stderr: () => err, stdout: () => out, exit };
}

async function until(what: string, ok: () => boolean, ms = 240_000, log?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${log ? `; stderr so far:\n${log()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The image names of "Stopped on request after finishing the N images in progress (a, b); …". */
function finishedAfterStop(stderr: string): string[] {
  const m = /Stopped on request after finishing the (\d+) images? in progress \(([^)]*)\)/.exec(stderr);
  if (!m) throw new Error(`no stop report in:\n${stderr}`);
  const names = m[2].split(', ');
  expect(names).toHaveLength(Number(m[1]));
  return names;
}

function suggested(project: string): Set<string> {
  const db = new Database(project, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare(`SELECT path FROM images WHERE status = 'suggested'`).all() as { path: string }[];
    return new Set(rows.map((r) => r.path.split('/').pop()!));
  } finally {
    db.close();
  }
}

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  const src = sharedPath('data', 'pennfudan', 'images');
  for (const name of readdirSync(src).filter((n) => n.startsWith('PennPed')).sort().slice(0, COUNT)) symlinkSync(join(src, name), join(images, name));
});

describe('Ctrl-C during prelabel', () => {
  it('project: finishes and saves the images in progress, exits on its own, and a rerun does the rest', async () => {
    const project = join(root, 'p.peaklabel');
    const made = spawnSync(process.execPath, [bin, 'create', '--project', project], { cwd: repoRoot, env, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const imported = spawnSync(process.execPath, [bin, 'import', '--project', project, '--images', images], { cwd: repoRoot, env, encoding: 'utf8' });
    expect(imported.status, imported.stderr).toBe(0);

    const run = start(['prelabel', '--project', project, '--method', 'prm', '--provider', 'cpu', '--workers', '2']);
    await until('two images saved', () => suggested(project).size >= 2);
    run.child.kill('SIGINT');
    const code = await run.exit;
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr()).not.toMatch(/internal error|Stopped at once/);
    const inFlight = finishedAfterStop(run.stderr());
    expect(inFlight.length).toBeGreaterThanOrEqual(1);
    const saved = suggested(project);
    for (const name of inFlight) expect(saved, `${name} was in progress at Ctrl-C`).toContain(name);
    expect(saved.size).toBeLessThan(COUNT);
    expect(run.stdout()).toMatch(new RegExp(`^${saved.size} images pre-labelled.*run again to continue`, 'm'));

    const rerun = spawnSync(process.execPath, [bin, 'prelabel', '--project', project, '--method', 'rect'], { cwd: repoRoot, env, encoding: 'utf8' });
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(new RegExp(`^${COUNT - saved.size} images pre-labelled`, 'm'));
    expect(suggested(project).size).toBe(COUNT);
  }, 600_000);

  it('one-shot: the images in progress are in the --out file, marked incomplete', async () => {
    const out = join(root, 'oneshot.json');
    const run = start(['prelabel', '--images', images, '--out', out, '--method', 'prm', '--provider', 'cpu', '--workers', '2']);
    await until('the model to load', () => /^model /m.test(run.stderr()));
    await new Promise((r) => setTimeout(r, 1500));
    run.child.kill('SIGINT');
    const code = await run.exit;
    expect(code, run.stderr()).toBe(130);
    const inFlight = finishedAfterStop(run.stderr());
    expect(inFlight.length).toBeGreaterThanOrEqual(1);
    const coco = JSON.parse(readFileSync(out, 'utf8'));
    expect(coco.info.complete).toBe(false);
    const written = coco.images.map((i: { file_name: string }) => i.file_name);
    for (const name of inFlight) expect(written).toContain(name);
    expect(written.length).toBeLessThan(COUNT);
  }, 300_000);

  it('a second Ctrl-C quits at once', async () => {
    const out = join(root, 'twice.json');
    const run = start(['prelabel', '--images', images, '--out', out, '--method', 'prm', '--provider', 'cpu']);
    await until('the model to load', () => /^model /m.test(run.stderr()));
    run.child.kill('SIGINT');
    // Generous: on a loaded CI machine the event loop can be busy for seconds while the workers start.
    await until('the first Ctrl-C to be seen', () => /Stopping: finishing the images in progress/.test(run.stderr()), 60_000, run.stderr);
    run.child.kill('SIGINT');
    expect(await run.exit, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(/Stopped at once/);
    expect(run.stderr()).not.toMatch(/terminate called|Napi::Error/);
  }, 300_000);
});
