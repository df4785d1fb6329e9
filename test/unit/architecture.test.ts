import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Dependencies point one way: services and workers use shared, never the reverse; the database
 * layer sits below the domain modules; config and telemetry know no domain. Read from the
 * sources' import lines, so a reversed arrow fails here before it turns into an import cycle.
 */

const ROOT = path.resolve(__dirname, '..', '..');

function sourceFiles(dir: string, extensions: readonly string[] = ['.ts']): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sourceFiles(rel, extensions);
    return extensions.some((e) => name.endsWith(e)) ? [rel] : [];
  });
}

// `from '…'` ends every import and re-export, one line or several; plus side-effect imports,
// require() and import() (tracing.ts loads the OTel SDK lazily).
const SPECIFIER = /\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** What `file` imports: project files as root-relative paths without extension, packages as named. */
function importsOf(file: string): { project: string[]; packages: string[] } {
  const project: string[] = [];
  const packages: string[] = [];
  for (const m of readFileSync(path.join(ROOT, file), 'utf8').matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (spec.startsWith('.')) project.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
    else packages.push(spec);
  }
  return { project, packages };
}

const under = (dir: string) => (target: string) => target === dir || target.startsWith(`${dir}/`);

/** Every `file → target` among `files` whose target is forbidden. */
function violations(files: readonly string[], forbidden: (target: string) => boolean): string[] {
  return files.flatMap((file) =>
    importsOf(file)
      .project.filter(forbidden)
      .map((target) => `${file} → ${target}`),
  );
}

const SHARED = sourceFiles('shared');
const DOMAIN = ['shared/db', 'shared/events', 'shared/exports', 'shared/queue', 'shared/webhooks', 'shared/provisioning', 'shared/scim'];

describe('architecture › dependencies point one way', () => {
  it('import reader › a file with imports › finds project files and packages', () => {
    // Guards the rules below against passing because nothing was read.
    const { project, packages } = importsOf('services/api/routes/health.ts');
    assert.ok(project.includes('shared/telemetry/health'), project.join(', '));
    assert.ok(packages.includes('express'), packages.join(', '));
  });

  it('shared/config.ts › imports packages, node: modules and its value formats only; the formats, nothing of ours', () => {
    const { project, packages } = importsOf('shared/config.ts');
    assert.deepEqual(project, ['shared/config-formats']);
    assert.ok(packages.includes('zod'));
    assert.deepEqual(importsOf('shared/config-formats.ts').project, []);
  });

  it('shared/telemetry › imports no domain module (db, events, exports, queue, webhooks, provisioning, scim)', () => {
    const telemetry = SHARED.filter(under('shared/telemetry'));
    assert.ok(telemetry.length >= 5);
    assert.deepEqual(
      violations(telemetry, (t) => DOMAIN.some((d) => under(d)(t))),
      [],
    );
  });

  it('shared/db › imports nothing from shared/webhooks, services or workers', () => {
    assert.deepEqual(
      violations(SHARED.filter(under('shared/db')), (t) => under('shared/webhooks')(t) || under('services')(t) || under('workers')(t)),
      [],
    );
  });

  it('shared › imports nothing from services or workers', () => {
    assert.deepEqual(
      violations(SHARED, (t) => under('services')(t) || under('workers')(t)),
      [],
    );
  });

  it('services/web › reaches the API only through types, and runs only shared code made for any JavaScript runtime', () => {
    const web = sourceFiles('services/web/src', ['.ts', '.tsx']);
    assert.ok(web.length >= 10);
    // Only `import type` may name the API (answer shapes, the session view): no server code ships to browsers.
    const NODE_BOUND = [
      'services',
      'workers',
      'shared/db',
      'shared/queue',
      'shared/telemetry',
      'shared/webhooks',
      'shared/exports',
      'shared/config',
      'shared/config-formats',
    ];
    const runtime = web.flatMap((file) =>
      [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/^import\s+(?!type\b)[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)]
        .map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1])))
        .filter((target) => !under('services/web')(target) && NODE_BOUND.some((dir) => under(dir)(target)))
        .map((target) => `${file} → ${target}`),
    );
    assert.deepEqual(runtime, []);
  });
});
