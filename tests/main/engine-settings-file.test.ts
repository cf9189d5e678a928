// A damaged engine-settings.json never stops the engine, but it is no longer silent: the API (engineInfo,
// which the UI shows as a notice and in Settings) and the CLI (stderr) name the file and the problem,
// the defaults apply, and saving Settings replaces the file and ends the warning. No model is loaded
// here (a missing bundle folder), so this runs without onnxruntime.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceContext } from '../../src/main/api/context';
import { createEngineMethods } from '../../src/main/api/engine-methods';
import { createService } from '../../src/main/api/service';
import { engineSettingsCheck } from '../../src/main/api/validate';
import { main } from '../../src/main/cli';
import { engineSettingsFile, readSavedEngineSettings } from '../../src/main/engine/settings';
import { capture } from '../helpers/cli';
import { testOutput } from '../helpers/shared';

const dir = testOutput('main', 'engine-settings-file');
const before = process.env.PEAKLABEL_CONFIG_DIR;
const noBundle = join(dir, 'no-bundle');

beforeEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.env.PEAKLABEL_CONFIG_DIR = join(dir, 'config');
  mkdirSync(join(dir, 'config'), { recursive: true });
});

afterAll(() => {
  process.env.PEAKLABEL_CONFIG_DIR = before;
});

const damaged: [string, string, RegExp][] = [
  ['not JSON', '{"workers": 2,', /is not valid JSON \(/],
  ['a bad value', JSON.stringify({ workers: 99 }), /holds settings PeakLabel cannot use \(they must be .*workers is an integer from 1 to 4/],
  ['not an object', '[1, 2]', /holds settings PeakLabel cannot use/],
];

describe('a damaged engine-settings.json', () => {
  it('is read as no settings with a warning naming the file and the problem; a missing or good file gives none', () => {
    expect(readSavedEngineSettings(engineSettingsCheck)).toEqual({ settings: {}, warning: null });
    writeFileSync(engineSettingsFile(), JSON.stringify({ workers: 2 }));
    expect(readSavedEngineSettings(engineSettingsCheck)).toEqual({ settings: { workers: 2 }, warning: null });
    for (const [, text, problem] of damaged) {
      writeFileSync(engineSettingsFile(), text);
      const { settings, warning } = readSavedEngineSettings(engineSettingsCheck);
      expect(settings).toEqual({});
      expect(warning).toMatchObject({ code: 'SETTINGS_INVALID', file: engineSettingsFile() });
      expect(warning?.message).toContain(engineSettingsFile());
      expect(warning?.message).toMatch(problem);
      expect(warning?.message).toMatch(/the defaults apply/);
    }
  });

  it('is reported by engineInfo while the defaults apply, until Settings are saved', async () => {
    writeFileSync(engineSettingsFile(), '{"workers": 2,');
    const ctx = new ServiceContext();
    const engine = createEngineMethods(ctx, { bundleDir: noBundle });
    const api = createService(ctx, engine);
    const info = await api.engineInfo();
    expect(info.settingsWarning).toMatchObject({ code: 'SETTINGS_INVALID', file: engineSettingsFile() });
    expect(info.settingsWarning?.message).toMatch(/is not valid JSON/);
    expect((await api.engineSettings()).workers).toBe(1); // the default
    await api.saveEngineSettings({ workers: 2 });
    expect((await api.engineInfo()).settingsWarning).toBeUndefined();
    expect(readSavedEngineSettings(engineSettingsCheck)).toEqual({ settings: { workers: 2 }, warning: null });
    await engine.closeEngine();
    ctx.close();
  });

  it('is a warning on stderr in the CLI', async () => {
    writeFileSync(engineSettingsFile(), JSON.stringify({ provider: 'tpu' }));
    const project = join(dir, 'p.peaklabel');
    expect(await main(['create', '--project', project], capture())).toBe(0);
    const c = capture();
    await main(['prelabel', '--project', project, '--model', noBundle], c); // fails later: there is no model here
    expect(c.stderr[0]).toMatch(new RegExp(`^warning: The engine settings file ${engineSettingsFile().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds settings PeakLabel cannot use \\(they must be .*provider is one of auto`));
  });
});
