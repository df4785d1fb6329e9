import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

/** npm test builds the pages into dist/web before the suites run (test/support/run-tests.ts). */
const WEB = path.resolve(__dirname, '../../dist/web');
/** Issue 11: the console's JavaScript, gzipped, at most 300 KB. */
const CONSOLE_JS_BUDGET_BYTES = 300 * 1000;

/** Every script a page loads: its entry and the chunks it preloads, as Vite writes them into the HTML. */
function scriptsOf(page: string): string[] {
  const html = readFileSync(path.join(WEB, page), 'utf8');
  return [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="\/ui\/([^"]+\.js)"/g)].map((m) => m[1]);
}

const gzippedBytes = (files: string[]) => files.reduce((n, f) => n + gzipSync(readFileSync(path.join(WEB, f)), { level: 9 }).length, 0);

describe('web pages › size budget', () => {
  for (const page of ['console.html', 'setup.html']) {
    it(`${page} › every script it loads, gzipped › within ${CONSOLE_JS_BUDGET_BYTES / 1000} KB`, () => {
      const scripts = scriptsOf(page);
      assert.ok(scripts.length >= 1, `${page} loads its scripts from /ui/assets`);
      const bytes = gzippedBytes(scripts);
      assert.ok(bytes <= CONSOLE_JS_BUDGET_BYTES, `${page}: ${bytes} bytes gzipped (${scripts.join(', ')})`);
    });
  }

  it('the built pages › load nothing from another origin and nothing inline', () => {
    for (const page of ['console.html', 'setup.html']) {
      const html = readFileSync(path.join(WEB, page), 'utf8');
      assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//, page);
      assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)[^>]*>|<style/, page);
    }
  });
});
