// Execution-provider choice: the preferred order for this platform, and a one-line reason for every
// preferred provider that was not used (shown by `peaklabel info` and engineInfo).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type ProviderName = 'cuda' | 'webgpu' | 'dml' | 'coreml' | 'cpu';
export const PROVIDERS: readonly ProviderName[] = ['cuda', 'webgpu', 'dml', 'coreml', 'cpu'];

/** Preferred order on this platform; DirectML only on Windows, CoreML only on macOS. */
export function providerOrder(platform: NodeJS.Platform = process.platform): ProviderName[] {
  const order: ProviderName[] = ['cuda', 'webgpu'];
  if (platform === 'win32') order.push('dml');
  if (platform === 'darwin') order.push('coreml');
  order.push('cpu');
  return order;
}

export function isProviderName(s: string): s is ProviderName {
  return (PROVIDERS as readonly string[]).includes(s);
}

/** Folder holding onnxruntime-node's native binding and shared libraries for this platform. */
export function ortBinaryDir(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/**
 * Cheap checks before trying a provider; returns why it cannot work, or null to go ahead and try.
 * CUDA needs the provider libraries that onnxruntime-node downloads separately; trying without them only
 * prints a loader error, so the file check gives a clearer reason.
 */
export function precheckProvider(p: ProviderName): string | null {
  if (p === 'cuda') {
    if (process.platform !== 'linux' && process.platform !== 'win32') return `cuda: not available on ${process.platform}`;
    const dir = ortBinaryDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (!dir || !existsSync(join(dir, lib))) return `cuda: ${lib} not found in ${dir ?? 'onnxruntime-node'} (install with ONNXRUNTIME_NODE_INSTALL=cuda12)`;
  }
  if (p === 'webgpu' && process.platform === 'linux' && !hasVulkanLoader()) {
    return 'webgpu: no Vulkan loader (libvulkan.so.1) on this system; install libvulkan1 and a GPU driver';
  }
  if (p === 'dml' && process.platform !== 'win32') return 'dml: DirectML exists only on Windows';
  if (p === 'coreml' && process.platform !== 'darwin') return 'coreml: CoreML exists only on macOS';
  return null;
}

/**
 * On Linux WebGPU (Dawn) runs on Vulkan; without the loader library it can find no adapter, and trying
 * prints Dawn's own warning ("Couldn't load Vulkan") to the terminal. Looks where the dynamic linker does.
 */
export function hasVulkanLoader(env: NodeJS.ProcessEnv = process.env, ldCache = '/etc/ld.so.cache'): boolean {
  const lib = 'libvulkan.so.1';
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/local/lib'];
  if (dirs.some((d) => existsSync(join(d, lib)))) return true;
  try {
    return readFileSync(ldCache).includes(lib);
  } catch {
    return false;
  }
}

/** Shortens ORT's long native error text to its informative tail. */
export function summarizeProviderError(p: ProviderName, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/adapter/i.test(msg)) return `${p}: no adapter (${lastSentence(msg)})`;
  return `${p}: ${lastSentence(msg)}`;
}

function lastSentence(msg: string): string {
  const oneLine = msg.replace(/\s+/g, ' ').trim();
  const tail = oneLine.split(/ was false\. | : FAIL : /).pop() ?? oneLine;
  return tail.length > 200 ? `${tail.slice(0, 197)}...` : tail;
}
