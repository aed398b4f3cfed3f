/**
 * Open a report file in headless Chromium with the network blocked: everything that is not the
 * file itself is aborted and recorded, as are console errors, page errors and dialogs.
 */
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';

/** What a page did while it was open: everything the tests assert never happened. */
export interface Watch {
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  dialogs: string[];
  /** Requests to anything but file: URLs (aborted). */
  offline: string[];
  /** Every request the page made. */
  requests: string[];
  /** All of the above but `requests`, as one list of labelled lines (filled while the page is open). */
  problems: string[];
}

// generous: the shared test machine can be heavily loaded, and each page inlines ~5 MB of plotly
const LOAD_TIMEOUT_MS = 120_000;

export async function openWatched(browser: Browser, file: string): Promise<Watch> {
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  const w: Omit<Watch, 'page'> = { consoleErrors: [], pageErrors: [], dialogs: [], offline: [], requests: [], problems: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    w.offline.push(url);
    w.problems.push(`network: ${url}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('request', (r) => w.requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    w.consoleErrors.push(m.text());
    w.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => {
    w.pageErrors.push(e.message);
    w.problems.push(`page error: ${e.message}`);
  });
  page.on('dialog', (d) => {
    w.dialogs.push(d.message());
    w.problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(pathToFileURL(file).href, { timeout: LOAD_TIMEOUT_MS });
  await page.waitForSelector('html[data-ready="1"]', { timeout: LOAD_TIMEOUT_MS });
  return { ...w, page };
}
