import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The two browser apps the API serves (services/api/routes/web-pages.ts): the customer's setup
 * page and the operator's console. Built to dist/web; every asset is served from this origin
 * under /ui/, so the pages need no CDN and work offline.
 */
export default defineConfig({
  root: __dirname,
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir: path.resolve(__dirname, '../../dist/web'),
    emptyOutDir: true,
    // The polyfill is an inline-free module, but no browser the console supports needs it.
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        setup: path.resolve(__dirname, 'setup.html'),
        console: path.resolve(__dirname, 'console.html'),
      },
    },
  },
});
