import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * Writes a brotli (.br) and a gzip (.gz) copy beside every script and stylesheet, compressed
 * once here at the highest levels, so the API sends them compressed without compressing per
 * request (routes/web-pages.ts picks one by Accept-Encoding).
 */
function precompressed(): Plugin {
  return {
    name: 'scim-precompressed',
    apply: 'build',
    // From the files as written: Vite still rewrites stylesheets after generateBundle.
    writeBundle(options, bundle) {
      for (const fileName of Object.keys(bundle)) {
        if (!/\.(js|css)$/.test(fileName)) continue;
        const file = path.join(options.dir ?? '', fileName);
        const source = readFileSync(file);
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(source, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: source.length } }),
        );
        writeFileSync(`${file}.gz`, gzipSync(source, { level: 9 }));
      }
    },
  };
}

/**
 * The two browser apps the API serves (services/api/routes/web-pages.ts): the customer's setup
 * page and the operator's console. Built to dist/web; every asset is served from this origin
 * under /ui/, so the pages need no CDN and work offline.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react(), precompressed()],
  build: {
    outDir: path.resolve(import.meta.dirname, '../../dist/web'),
    emptyOutDir: true,
    // The polyfill is an inline-free module, but no browser the console supports needs it.
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        setup: path.resolve(import.meta.dirname, 'setup.html'),
        console: path.resolve(import.meta.dirname, 'console.html'),
      },
    },
  },
});
