// Browser harness for the e2e tests: builds the renderer once (vite, renderer only), starts the real
// bridge on a free port, and launches Debian's Chromium through playwright-core.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';
import { expect } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { rendererViteConfig } from '../../electron.vite.config';
import type { PeakLabelApi } from '../../src/common/api';
import { startBridge, type Bridge, type BridgeOptions } from '../../src/main/bridge/server';
import { createBridgeClient } from '../../src/renderer/src/api-client';
import { repoRoot } from '../helpers/shared';

export const rendererOut = join(repoRoot, 'out', 'renderer');

/** Newest modification time under a folder (to skip rebuilding an up-to-date renderer). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const upToDate = (): boolean => {
  const index = join(rendererOut, 'index.html');
  const sources = Math.max(newest(join(repoRoot, 'src', 'renderer')), newest(join(repoRoot, 'src', 'common')));
  return existsSync(index) && statSync(index).mtimeMs > sources;
};

/**
 * Builds out/renderer unless it is newer than its sources. Test files run in parallel workers, so the
 * build holds a lock directory: the others wait for it instead of emptying the folder mid-build.
 */
export async function buildRenderer(): Promise<string> {
  const lock = join(repoRoot, 'out', '.renderer-build.lock');
  mkdirSync(join(repoRoot, 'out'), { recursive: true });
  for (;;) {
    if (upToDate() && !process.env.PEAKLABEL_REBUILD) return rendererOut;
    try {
      mkdirSync(lock);
      break;
    } catch {
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true }); // a crashed build
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    await build({ ...rendererViteConfig(), configFile: false, logLevel: 'warn' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return rendererOut;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Page errors and console errors are collected so a test can assert the UI ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export function screenshotPath(name: string): string {
  const dir = join(repoRoot, 'test-output', 'e2e');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** Creates the project `file` from the start screen and adds the class `className`, waiting until it is listed. */
export async function createProjectWithClass(page: Page, file: string, className: string): Promise<void> {
  await page.getByTestId('create-path').fill(file);
  await page.getByTestId('create-project').click();
  await page.getByTestId('new-class').fill(className);
  await page.getByTestId('add-class').click();
  await expect.poll(() => page.getByTestId('class-name').first().inputValue().catch(() => '')).toBe(className);
}

/** A fresh work folder for one e2e file, with a recent-projects list of its own. */
export function freshWorkDir(work: string): void {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  process.env.PEAKLABEL_CONFIG_DIR = join(work, 'config');
}

export interface E2eSession {
  bridge: Bridge;
  /** A second client of the same service, to check what the UI stored. */
  api: PeakLabelApi;
  browser: Browser;
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

/** The built renderer behind the real bridge, an API client of it, and a Chromium page (not yet navigated). */
export async function openSession(opts: Omit<BridgeOptions, 'staticDir'> = {}): Promise<E2eSession> {
  const staticDir = await buildRenderer();
  const bridge = await startBridge({ ...opts, staticDir });
  const api = createBridgeClient(bridge.apiUrl);
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const close = async () => {
    await browser.close();
    await bridge.close();
  };
  return { bridge, api, browser, page, errors: watchErrors(page), close };
}
