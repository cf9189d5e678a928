// The only bridge between the sandboxed renderer and main: one typed object, window.peaklabel.
// Every call goes through one IPC channel; main checks the method name and validates the arguments.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { API_METHODS, IPC_INVOKE, IPC_PROGRESS, type ApiMethod, type PeakLabelApi, type WireResponse } from '../common/api';
import type { ProgressEvent } from '../common/progress';

async function invoke(method: ApiMethod, args: unknown[]): Promise<unknown> {
  const res = (await ipcRenderer.invoke(IPC_INVOKE, method, args)) as WireResponse;
  // A plain ErrorInfo survives the context bridge intact (Error subclasses lose their fields).
  if (!res.ok) throw res.error;
  return res.result;
}

const api = {} as Record<string, unknown>;
for (const method of API_METHODS) api[method] = (...args: unknown[]) => invoke(method, args);
api.onProgress = (listener: (e: ProgressEvent) => void) => {
  const handler = (_e: IpcRendererEvent, data: ProgressEvent) => listener(data);
  ipcRenderer.on(IPC_PROGRESS, handler);
  return () => ipcRenderer.removeListener(IPC_PROGRESS, handler);
};

contextBridge.exposeInMainWorld('peaklabel', api as unknown as PeakLabelApi);
