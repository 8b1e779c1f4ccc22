import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium package; Playwright never downloads a browser here (.ci/run installs this one). */
export const chromiumPath = '/usr/bin/chromium';

/** Headless Chromium. `--no-sandbox`: CI runs as root, where Chromium's sandbox refuses to start. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

/** A new page that collects every console error and uncaught exception into the returned list. */
export async function pageWithErrors(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  return { page, errors };
}
