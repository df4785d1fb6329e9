/**
 * Runs the real API and worker entry points as child processes for end-to-end tests: through
 * the TypeScript loader as `npm test` does, or compiled as `npm run api` / `npm run worker` do.
 * Output is kept for assertions; every wait is bounded.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

export interface Spawned {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code or signal; rejects after `timeoutMs`. */
  exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it if it still runs; safe to call twice. */
  kill(): Promise<void>;
}

let build: Promise<string> | undefined;

/**
 * Compiles the project once per test process into a temporary directory (never the shared
 * dist/) and returns it. Tracing needs this: under tsx every import is hoisted above
 * `startTracing()`, so http and express would load before the SDK could patch them, while the
 * compiled CommonJS keeps the order written in server.ts and main.ts.
 */
export function compiledBuild(): Promise<string> {
  return (build ??= new Promise<string>((resolve, reject) => {
    const out = mkdtempSync(path.join(tmpdir(), 'scim-e2e-build-'));
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
    const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
    execFile(tsc, ['-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`build failed:\n${stdout}${stderr}`));
      else resolve(out);
    });
  }));
}

export interface SpawnOptions {
  /** Run the compiled JavaScript in this directory (from compiledBuild()) instead of tsx. */
  readonly compiledIn?: string;
}

export function spawnEntry(entry: 'services/api/server.ts' | 'workers/main.ts', env: Record<string, string>, options: SpawnOptions = {}): Spawned {
  const compiled = options.compiledIn ? path.join(options.compiledIn, entry.replace(/\.ts$/, '.js')) : undefined;
  if (compiled && !existsSync(compiled)) throw new Error(`no compiled ${entry} in ${options.compiledIn}`);
  const args = compiled ? ['--enable-source-maps', compiled] : ['--import', 'tsx', path.join(root, entry)];
  const child = spawn(process.execPath, args, {
    cwd: root,
    // The compiled files live outside the repository: packages are found through NODE_PATH.
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', NODE_PATH: path.join(root, 'node_modules'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += String(d)));
  child.stderr!.on('data', (d) => (output += String(d)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    output: () => output,
    exited: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${entry} did not exit within ${timeoutMs} ms`)), timeoutMs);
        void exit.then((r) => {
          clearTimeout(timer);
          resolve(r);
        });
      }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Polls `url` until it answers `status`; rejects after `timeoutMs` with the process's output. */
export async function waitForStatus(url: string, status: number, timeoutMs: number, proc?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) throw new Error(`process exited early:\n${proc.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms${proc ? `:\n${proc.output()}` : ''}`);
}

/** The JSON log lines a process wrote (anything else skipped). */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
