/**
 * How fast the browser pages load (issue 11: under 1 s on this machine), in Debian's chromium
 * against the bench's production API process with its prefilled directories. A page counts as
 * loaded when its document, its assets and the API calls it makes on arrival have all completed:
 * the last of those responses' end, from navigation start (Resource and Navigation Timing). Each
 * page is loaded cold (a new browser context: empty cache) and warm (same context, reloaded).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface PageLoadOptions {
  readonly apiUrl: string;
  readonly adminToken: string;
  /** Pages to load: a name and a path below apiUrl (the setup page's includes its #secret). */
  readonly pages: readonly { name: string; path: string }[];
  /** Loads of each page in each mode. Default 5. */
  readonly rounds?: number;
  readonly log: (line: string) => void;
}

export interface PageLoadFigure {
  readonly page: string;
  readonly mode: 'cold' | 'warm';
  readonly medianMs: number;
  readonly maxMs: number;
  /** Requests the page made on arrival, and the bytes it transferred (cold: everything). */
  readonly requests: number;
  readonly transferredKiB: number;
}

export async function runPageLoadBench(options: PageLoadOptions): Promise<PageLoadFigure[] | undefined> {
  if (!existsSync(CHROMIUM)) {
    options.log(`pages: skipped, no chromium at ${CHROMIUM} (apt-get install chromium)`);
    return undefined;
  }
  const rounds = options.rounds ?? 5;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const figures: PageLoadFigure[] = [];
    for (const target of options.pages) {
      for (const mode of ['cold', 'warm'] as const) {
        const loads = await loadRounds(browser, options, target.path, mode, rounds);
        const times = loads.map((l) => l.ms).sort((a, b) => a - b);
        figures.push({
          page: target.name,
          mode,
          medianMs: times[Math.floor(times.length / 2)],
          maxMs: times[times.length - 1],
          requests: loads[0].requests,
          transferredKiB: loads[0].transferred / 1024,
        });
      }
    }
    return figures;
  } finally {
    await browser.close();
  }
}

async function loadRounds(browser: Browser, options: PageLoadOptions, path: string, mode: 'cold' | 'warm', rounds: number) {
  const loads: { ms: number; requests: number; transferred: number }[] = [];
  const signedIn = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    // The console's session, signed in outside the measured load.
    const res = await context.request.post(`${options.apiUrl}/admin/session`, { data: { token: options.adminToken } });
    if (res.status() !== 201) throw new Error(`sign-in: ${res.status()}`);
    return context;
  };
  let context = await signedIn();
  let page = await context.newPage();
  if (mode === 'warm') await page.goto(`${options.apiUrl}${path}`, { waitUntil: 'networkidle' });
  for (let i = 0; i < rounds; i++) {
    if (mode === 'cold' && i > 0) {
      await context.close();
      context = await signedIn();
      page = await context.newPage();
    }
    // A reload, not goto: going to the same address with a #fragment (the setup page's) is a
    // navigation within the document, which loads nothing.
    if (mode === 'warm') await page.reload({ waitUntil: 'networkidle' });
    else await page.goto(`${options.apiUrl}${path}`, { waitUntil: 'networkidle' });
    loads.push(await page.evaluate(arrivalTiming));
  }
  await context.close();
  return loads;
}

/** In the page: the end of the last response among those started in its first two seconds (later ones are polls). */
function arrivalTiming() {
  const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
  const resources = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((r) => r.startTime < 2000);
  const ends = [nav.loadEventEnd, ...resources.map((r) => r.responseEnd)];
  return {
    ms: Math.round(Math.max(...ends)),
    requests: 1 + resources.length,
    transferred: nav.transferSize + resources.reduce((n, r) => n + r.transferSize, 0),
  };
}

export function pageLoadTable(figures: readonly PageLoadFigure[]): string {
  return [
    '| page | cache | median ms | max ms | requests | transferred KiB |',
    '|---|---|---:|---:|---:|---:|',
    ...figures.map((f) => `| ${f.page} | ${f.mode} | ${f.medianMs} | ${f.maxMs} | ${f.requests} | ${f.transferredKiB.toFixed(1)} |`),
  ].join('\n');
}
