import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler, Router } from 'express';
import { pageHeaders } from '../middleware/security-headers';

export interface WebPagesOptions {
  /** The Vite build of services/web (npm run build). Default: dist/web beside the running code. */
  readonly root?: string;
}

/** Where the assets are served; services/web/vite.config.mts builds with the same base. */
export const ASSETS_PATH = '/ui';

/**
 * The browser pages: the customer's setup page (`/setup`, its secret in the URL's fragment) and
 * the operator's console (`/admin/console/…`, one page whose script routes by path). The HTML
 * holds no data: each app fetches it from its API, with the setup link's secret or the
 * operator's session. Assets carry a content hash in their names, so they are cached for a year;
 * the pages are revalidated on each visit so a deploy takes effect at once.
 */
export function webPages(options: WebPagesOptions = {}): Router {
  const root = options.root ?? defaultRoot();
  const router = Router();
  // The app-wide no-store (security-headers.ts) is for answers with data; send keeps a header it finds.
  const cacheable: RequestHandler = (_req, res, next) => {
    res.removeHeader('Cache-Control');
    next();
  };
  const assets = path.join(root, 'assets');
  router.use(`${ASSETS_PATH}/assets`, cacheable, precompressed(assets), express.static(assets, { index: false, immutable: true, maxAge: '365d' }));
  const setup = page(root, 'setup.html');
  const console = page(root, 'console.html');
  router.get('/setup', strictPage, setup);
  router.get(['/admin/console', '/admin/console/{*rest}'], strictPage, console);
  return router;
}

/**
 * Strict CSP: scripts, styles and calls only from this origin, nothing inline. A name a user
 * typed that slipped past React's escaping would still not run.
 */
const strictPage = pageHeaders({
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  manifestSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
});

/**
 * Scripts and stylesheets as the build compressed them (services/web/vite.config.mts), brotli or
 * gzip as the browser accepts: the file sent is the .br or .gz beside the asset, with the
 * asset's own type. Anything else, or a browser accepting neither, gets the file as it is.
 */
function precompressed(assets: string): RequestHandler {
  // The build's files, listed once (the build never changes under a running process; a name
  // asked for is never stored, so requests for made-up names cost nothing but a lookup).
  let files: ReadonlySet<string> | undefined;
  const compressedCopy = (name: string) => {
    if (!files && existsSync(assets)) files = new Set(readdirSync(assets));
    return files?.has(name) ?? false;
  };
  return (req, res, next) => {
    const [pathname, query] = req.url.split('?');
    if (!/\.(js|css)$/.test(pathname)) return next();
    res.vary('Accept-Encoding');
    // Brotli whenever it is accepted at all: negotiation alone would follow the header's order.
    const encoding = req.acceptsEncodings('br') ? 'br' : req.acceptsEncodings('gzip') ? 'gzip' : undefined;
    const suffix = encoding === 'br' ? '.br' : encoding === 'gzip' ? '.gz' : undefined;
    if (!suffix || !compressedCopy(path.basename(pathname) + suffix)) return next();
    res.setHeader('Content-Encoding', encoding as string);
    // send keeps a Content-Type it finds: the script's, not one for .br.
    res.type(path.extname(pathname));
    req.url = `${pathname}${suffix}${query === undefined ? '' : `?${query}`}`;
    next();
  };
}

/** One built page, read on first request; a 503 that says what to run when it was never built. */
function page(root: string, file: string): RequestHandler {
  let html: string | undefined;
  return (_req, res) => {
    const full = path.join(root, file);
    if (html === undefined && existsSync(full)) html = readFileSync(full, 'utf8');
    res.setHeader('Cache-Control', 'no-cache');
    if (html === undefined) {
      res.status(503).type('text/plain').send(`This page is not built: run "npm run build" (${file} is missing from ${root}).\n`);
      return;
    }
    res.type('html').send(html);
  };
}

/** dist/web whether this runs compiled (dist/services/api/routes) or from source (services/api/routes). */
function defaultRoot(): string {
  const compiled = path.resolve(__dirname, '../../../web');
  return existsSync(path.join(compiled, 'setup.html')) ? compiled : path.resolve(__dirname, '../../../dist/web');
}
