import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/**
 * Builds the setup page and the console (services/web) into dist/web with Vite, as
 * `npm run build:web` does; `npm start` and `npm test` call it so the API always serves pages
 * built from the sources beside it. About a second.
 */
export function buildWeb(): void {
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '-c', path.join(root, 'services/web/vite.config.mts'), '--logLevel', 'warn'],
    {
      cwd: root,
      stdio: 'inherit',
      // Vite follows NODE_ENV: under npm test's NODE_ENV=test it would bundle React's development build.
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
}
