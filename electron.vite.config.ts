// Builds the three Electron bundles. Native modules stay external (loaded from node_modules at run time).
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { UserConfig } from 'vite';

const root = import.meta.dirname;
const nativeModules = ['better-sqlite3', 'sharp', 'onnxruntime-node', 'electron'];

/** The renderer build on its own: the browser e2e tests build with it (no Electron needed). */
export function rendererViteConfig(): UserConfig {
  return {
    root: resolve(root, 'src/renderer'),
    base: './',
    plugins: [svelte()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      emptyOutDir: true,
      rollupOptions: { input: resolve(root, 'src/renderer/index.html') },
    },
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: resolve(root, 'out/main'),
      externalizeDeps: true,
      rollupOptions: {
        // The engine's and the training's worker threads are their own entries: engine.ts and trainer.ts start
        // `./worker-entry.mjs` / `./train-worker-entry.mjs` beside the bundle (in development those files
        // register tsx and load worker.ts / train-worker.ts instead).
        input: {
          index: resolve(root, 'src/main/index.ts'),
          'worker-entry': resolve(root, 'src/main/engine/worker.ts'),
          'train-worker-entry': resolve(root, 'src/main/training/train-worker.ts'),
        },
        output: { entryFileNames: (chunk) => (chunk.name.endsWith('worker-entry') ? '[name].mjs' : '[name].js') },
        external: nativeModules,
      },
    },
  },
  preload: {
    // A sandboxed preload must be CommonJS.
    build: {
      outDir: resolve(root, 'out/preload'),
      externalizeDeps: true,
      rollupOptions: {
        input: resolve(root, 'src/preload/index.ts'),
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: rendererViteConfig(),
});
