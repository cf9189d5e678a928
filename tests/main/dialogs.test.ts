// choosePath / appInfo through the service: without dialogs (CLI, bridge) a clear UNSUPPORTED error;
// with an injected chooser (what the desktop shell passes) its answer, or null on cancel, comes back;
// unknown purposes are refused; each purpose asks Electron for the right kind of dialog.
import { describe, expect, it } from 'vitest';
import type { ChoosePathRequest } from '../../src/common/api';
import { ServiceContext } from '../../src/main/api/context';
import { dialogSpec } from '../../src/main/api/dialogs';
import { createService, invokeApi } from '../../src/main/api/service';

describe('choosePath', () => {
  it('without dialogs: appInfo says so and choosePath rejects with UNSUPPORTED, telling to type the path', async () => {
    const api = createService(new ServiceContext());
    expect(await api.appInfo()).toEqual({ nativeDialogs: false });
    const r = await invokeApi(api, 'choosePath', [{ purpose: 'image-folder' }]);
    expect(r).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED' } });
    expect(!r.ok && r.error.message).toMatch(/desktop app.*type the path/);
  });

  it('refuses an unknown purpose, extra fields and a non-string default path', async () => {
    const api = createService(new ServiceContext(), undefined, async () => '/never');
    for (const bad of [{ purpose: 'downloads' }, { purpose: 'coco-file', multiple: true }, { purpose: 'coco-file', defaultPath: 3 }, undefined]) {
      const r = await invokeApi(api, 'choosePath', [bad]);
      expect(r).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
      expect(!r.ok && r.error.message).toMatch(/^choosePath: argument 1/);
    }
  });

  it("with an injected chooser: appInfo says so, the chooser's path or null (cancel) comes back through the API", async () => {
    const asked: ChoosePathRequest[] = [];
    let answer: string | null = '/data/balloon/images';
    const api = createService(new ServiceContext(), undefined, async (req) => {
      asked.push(req);
      return answer;
    });
    expect(await invokeApi(api, 'appInfo', [])).toEqual({ ok: true, result: { nativeDialogs: true } });
    expect(await invokeApi(api, 'choosePath', [{ purpose: 'image-folder', defaultPath: '/data' }])).toEqual({ ok: true, result: '/data/balloon/images' });
    answer = null;
    expect(await invokeApi(api, 'choosePath', [{ purpose: 'tags-csv' }])).toEqual({ ok: true, result: null });
    expect(asked).toEqual([{ purpose: 'image-folder', defaultPath: '/data' }, { purpose: 'tags-csv' }]);
  });
});

describe('dialogSpec', () => {
  it('folders open directories; files are filtered by type; new project and export are save dialogs', () => {
    expect(dialogSpec({ purpose: 'image-folder' })).toMatchObject({ kind: 'open', options: { properties: ['openDirectory'] } });
    expect(dialogSpec({ purpose: 'relink-folder' })).toMatchObject({ kind: 'open', options: { properties: ['openDirectory'] } });
    expect(dialogSpec({ purpose: 'open-project' })).toMatchObject({ kind: 'open', options: { properties: ['openFile'], filters: [{ extensions: ['peaklabel'] }] } });
    expect(dialogSpec({ purpose: 'coco-file' }).options.filters?.[0].extensions).toEqual(['json']);
    expect(dialogSpec({ purpose: 'tags-csv' }).options.filters?.[0].extensions).toEqual(['csv']);
    const created = dialogSpec({ purpose: 'new-project', defaultPath: '/work/p.peaklabel' });
    expect(created).toMatchObject({ kind: 'save', options: { defaultPath: '/work/p.peaklabel', properties: ['createDirectory'], filters: [{ extensions: ['peaklabel'] }] } });
    expect(dialogSpec({ purpose: 'export-coco' })).toMatchObject({ kind: 'save', options: { properties: ['createDirectory', 'showOverwriteConfirmation'] } });
    expect(dialogSpec({ purpose: 'export-coco' }).options.defaultPath).toBeUndefined(); // a default path is not remembered between requests
  });
});
