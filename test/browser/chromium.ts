/**
 * Headless Chromium for the browser tests: Debian's `chromium` driven by playwright-core (no
 * browser download). The flags keep Chromium from calling home: in a closed network its update,
 * sync and QUIC connections are refused and slow every page down. Each launch has a fresh profile.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** Screenshots land here (git-ignored), one folder per suite. */
export const ARTIFACTS_DIR = path.resolve(__dirname, '..', 'artifacts', 'browser');

/** True when the browser is installed; CI installs it (.ci/run), so there it always is. */
export const chromiumInstalled = existsSync(CHROMIUM_PATH);

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Saves a full-page screenshot as `<suite>/<name>.png` and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A phone-sized window with a browser of its own (the claim pages play WeChat's in-app browser this way). */
export interface LaunchOptions {
  userAgent?: string;
  viewport?: { width: number; height: number };
}

export async function launchChromium(suite: string, options: LaunchOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    // playwright passes the fresh profile as --user-data-dir itself.
    args: CHROMIUM_FLAGS,
    acceptDownloads: true,
    viewport: options.viewport ?? { width: 1280, height: 900 },
    ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const folder = path.join(ARTIFACTS_DIR, suite);
  mkdirSync(folder, { recursive: true });
  return {
    context,
    page,
    async screenshot(name) {
      const file = path.join(folder, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
