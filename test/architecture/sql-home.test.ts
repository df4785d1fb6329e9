import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Every SQL statement lives under shared/db (migrations under infra/migrations): services,
 * workers, scripts and the rest of shared call repository methods instead, so a reader finds
 * every statement on a table in one place and every directory statement on a scoped class.
 */
const root = path.resolve(__dirname, '..', '..');
const SCANNED = ['services', 'shared', 'workers', 'infra'];
const HOMES = ['shared/db/', 'infra/migrations/'];

/** Statement shapes, upper case as every statement here is written; prose says "select" in lower case. */
const SQL_PATTERNS: readonly RegExp[] = [
  /\bSELECT\b[^;`]{0,400}?\bFROM\b/g,
  /\bINSERT\s+INTO\b/g,
  /\bUPDATE\s+[\w.${}]+(?:\s+\w+)?\s+SET\b/g,
  /\bDELETE\s+FROM\b/g,
  /\bWITH\s+\w+\s+AS\s+(?:MATERIALIZED\s+)?\(/g,
  /\b(?:CREATE|ALTER|DROP)\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|ROLE|DATABASE)\b/g,
  /\bpg_advisory/g,
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * `file:line  text` for each statement-like text in `source`. Comment lines are blanked first
 * (keeping line numbers), so a comment may still name a statement it explains.
 */
function sqlOffences(file: string, source: string): string[] {
  const code = source
    .split('\n')
    .map((line) => (/^\s*(\/\/|\/\*|\*)/.test(line) ? '' : line))
    .join('\n');
  const found = new Map<number, string>();
  for (const pattern of SQL_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const line = code.slice(0, m.index).split('\n').length;
      found.set(line, `${file}:${line}  ${source.split('\n')[line - 1].trim().slice(0, 100)}`);
    }
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, text]) => text);
}

describe('SQL home', () => {
  it('every .ts file outside shared/db and infra/migrations › contains no SQL statement', () => {
    const offences = SCANNED.flatMap((dir) => tsFiles(path.join(root, dir)))
      .map((full) => path.relative(root, full).split(path.sep).join('/'))
      .filter((file) => !HOMES.some((home) => file.startsWith(home)))
      .flatMap((file) => sqlOffences(file, readFileSync(path.join(root, file), 'utf8')));
    assert.deepEqual(offences, [], `SQL outside shared/db; move it into a repository there:\n${offences.join('\n')}`);
  });

  it('the scanner › statements of every kind, over several lines › each reported at its first line', () => {
    const planted = [
      'const a = 1;',
      'await db.query(`SELECT id',
      '   FROM scim_users WHERE directory_id = $1`, [id]);',
      "await db.exec('DELETE FROM events WHERE id = $1', [id]);",
      `await db.exec(\`UPDATE \${table} t SET version = 1\`);`,
      "await client.query('CREATE DATABASE x');",
      "await db.exec('SELECT pg_advisory_xact_lock(1)');",
      '`WITH batch AS (SELECT 1) INSERT INTO x SELECT * FROM batch`',
      '// A comment may say SELECT 1 FROM x or INSERT INTO events.',
      'const prose = "select the rows from the table";',
    ].join('\n');
    assert.deepEqual(
      sqlOffences('workers/planted.ts', planted).map((o) => o.split('  ')[0]),
      [2, 4, 5, 6, 7, 8].map((line) => `workers/planted.ts:${line}`),
    );
  });
});
