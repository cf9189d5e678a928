import Database from 'better-sqlite3';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/common/progress';
import { main } from '../../src/main/cli';
import { formatProgressLine, ProgressBar } from '../../src/main/cli/progress-bar';
import { capture } from '../helpers/cli';
import { testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const dir = testOutput('main', 'cli');

const event = (done: number, state: ProgressEvent['state'] = 'running'): ProgressEvent =>
  ({ jobId: 'j', kind: 'import', done, total: 10, etaSeconds: 3, failed: 1, state });

describe('peaklabel CLI', () => {
  it('lists the commands and prints --help for each', async () => {
    const c = capture();
    expect(await main(['--help'], c)).toBe(0);
    for (const name of ['create', 'import', 'import-coco', 'tags', 'export', 'serve', 'bench', 'merge-coco']) {
      expect(c.stdout.join('\n')).toContain(name);
      const h = capture();
      expect(await main([name, '--help'], h)).toBe(0);
      expect(h.stdout.join('\n')).toMatch(/^usage: peaklabel /);
    }
  });

  it('prints the sentence and exits non-zero on errors', async () => {
    mkdirSync(dir, { recursive: true });
    const unknown = capture();
    expect(await main(['frobnicate'], unknown)).toBe(2);
    expect(unknown.stderr[0]).toMatch(/unknown command "frobnicate"/);

    const missing = capture();
    expect(await main(['import', '--project', join(dir, 'x.peaklabel')], missing)).toBe(2);
    expect(missing.stderr[0]).toMatch(/needs --images/);

    const noProject = capture();
    const absent = join(dir, 'absent.peaklabel');
    rmSync(absent, { force: true });
    expect(await main(['export', '--project', absent, '--out', join(dir, 'o.json')], noProject)).toBe(1);
    expect(noProject.stderr[0]).toContain(absent);

    const newer = join(dir, 'newer.peaklabel');
    rmSync(newer, { force: true });
    expect(await main(['create', '--project', newer, '--class', 'cat'], capture())).toBe(0);
    const db = new Database(newer);
    db.prepare('UPDATE schema_version SET version = version + 1').run();
    db.close();
    const refused = capture();
    expect(await main(['export', '--project', newer, '--out', join(dir, 'o.json')], refused)).toBe(1);
    expect(refused.stderr[0]).toMatch(/newer PeakLabel/);
    expect(refused.stderr[0]).toContain(newer);

    // `import` creates a missing project, but an existing file that is not one is refused, untouched.
    const empty = join(dir, 'empty.peaklabel');
    writeFileSync(empty, '');
    const notProject = capture();
    expect(await main(['import', '--project', empty, '--images', dir], notProject)).toBe(1);
    expect(notProject.stderr[0]).toMatch(/is an empty file, not a PeakLabel project/);
    expect(statSync(empty).size).toBe(0);

    const badFormat = capture();
    expect(await main(['export', '--project', newer, '--out', 'x.json', '--format', 'svg'], badFormat)).toBe(2);
    expect(badFormat.stderr[0]).toMatch(/polygon or rle/);
  });

  it('draws a bar on a terminal and plain lines otherwise', () => {
    expect(formatProgressLine(event(5))).toBe('import 5/10 (50%, 1 failed) eta 3s');
    const chunks: string[] = [];
    const sink = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }) as unknown as NodeJS.WriteStream;
    const plain = new ProgressBar(sink, false);
    plain.update(event(1));
    plain.update(event(2)); // within the interval: not printed
    plain.update(event(10, 'done'));
    expect(chunks).toEqual(['import 1/10 (10%, 1 failed) eta 3s\n', 'import 10/10 (100%, 1 failed) eta 3s done\n']);
    chunks.length = 0;
    const tty = new ProgressBar(sink, true);
    tty.update(event(5));
    expect(chunks[0]).toMatch(/^\r\x1b\[2K\[#{14}\.{14}\] import 5\/10/);
  });
});
