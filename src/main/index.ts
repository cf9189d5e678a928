// The Electron shell, and nothing else: one locked-down window, one IPC channel to the service.
// All behaviour lives in src/main/api (shared with the CLI and the test bridge).
import { app, BrowserWindow, dialog, ipcMain, protocol, session, shell } from 'electron';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_METHODS, IPC_INVOKE, IPC_PROGRESS, type ApiMethod, type ChoosePathRequest } from '../common/api';
import { ServiceContext } from './api/context';
import { dialogSpec } from './api/dialogs';
import { createEngineMethods } from './api/engine-methods';
import { createService, invokeApi } from './api/service';
import { APP_INDEX_URL, APP_SCHEME, appFile, contentTypeOf, devServerUrl, requestAllowed, trustedSender } from './app-protocol';

const here = fileURLToPath(new URL('.', import.meta.url));
const rendererRoot = join(here, '../renderer');
// Set by `electron-vite dev`. A packaged app never loads a page named by its environment.
const devUrl = devServerUrl(app.isPackaged, process.env);
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// app://peaklabel/… serves the built renderer folder and nothing else (app-protocol.ts); standard and
// secure so relative URLs, 'self' in the CSP and module scripts work as on https. Before app ready.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } }]);

const ctx = new ServiceContext();
// The bundle sits beside package.json (the app path), not beside this bundled file.
const engine = createEngineMethods(ctx, { bundleDir: process.env.PEAKLABEL_MODEL_DIR ?? join(app.getAppPath(), 'resources', 'models') });
const api = createService(ctx, engine, choosePath);

/** The OS dialog for one path purpose (what each purpose asks is in api/dialogs.ts); null = cancelled. */
async function choosePath(request: ChoosePathRequest): Promise<string | null> {
  const spec = dialogSpec(request);
  const parent = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
  if (spec.kind === 'save') {
    const r = parent ? await dialog.showSaveDialog(parent, spec.options) : await dialog.showSaveDialog(spec.options);
    return r.canceled || !r.filePath ? null : r.filePath;
  }
  const r = parent ? await dialog.showOpenDialog(parent, spec.options) : await dialog.showOpenDialog(spec.options);
  return r.canceled ? null : (r.filePaths[0] ?? null);
}

ipcMain.handle(IPC_INVOKE, async (event, method: unknown, args: unknown) => {
  if (!trustedSender(event.senderFrame?.url, devUrl)) {
    return { ok: false, error: { code: 'BAD_ARGUMENT', message: 'API calls are only accepted from the PeakLabel window.' } };
  }
  if (typeof method !== 'string' || !API_METHODS.includes(method as ApiMethod)) {
    return { ok: false, error: { code: 'BAD_ARGUMENT', message: `Unknown API method: ${String(method)}.` } };
  }
  return invokeApi(api, method, args); // validates every argument
});

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    backgroundColor: '#1b1d22',
    title: 'PeakLabel',
    show: false,
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  const unsubscribe = api.onProgress((e) => {
    if (!win.isDestroyed()) win.webContents.send(IPC_PROGRESS, e);
  });
  win.on('closed', unsubscribe);

  // No navigation and no new windows: links to the web open in the system browser.
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-attach-webview', (e) => e.preventDefault());

  void win.loadURL(devUrl ?? APP_INDEX_URL);
  return win;
}

app.enableSandbox();
app.whenReady().then(() => {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  protocol.handle(APP_SCHEME, async (request) => {
    const file = await appFile(request.url, rendererRoot);
    if (!file) return new Response('Not found', { status: 404, headers: { 'content-type': 'text/plain' } });
    return new Response(await readFile(file), { headers: { 'content-type': contentTypeOf(file), 'content-security-policy': CSP } });
  });
  // No remote content and no file: URLs: only the app's own scheme (and the dev server while developing).
  ses.webRequest.onBeforeRequest((details, cb) => cb({ cancel: !requestAllowed(details.url, devUrl) }));
  ses.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [devUrl ? CSP.replace("connect-src 'self'", "connect-src 'self' ws:") : CSP] } });
  });
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('will-quit', () => {
  void engine.closeEngine();
  ctx.close(); // checkpoints the project database
});
