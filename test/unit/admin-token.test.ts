import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseConfig } from '../../shared/config';
import { adminTokenWeakness } from '../../shared/config-formats';

const root = path.resolve(__dirname, '..', '..');

describe('ADMIN_TOKEN › strength checked at start', () => {
  const refused: [string, string][] = [
    ['short', 'adm_0123456789abcdef'],
    ['one character repeated', 'a'.repeat(32)],
    ['few distinct characters', 'abcabcabcabcxyzxyzxyzxyzabcabcabcabc'],
    ['a pattern repeated', 'abcdefghij'.repeat(4)],
    ['a pattern repeated, cut short', '0123456789'.repeat(4).slice(0, 37)],
  ];
  for (const [what, token] of refused) {
    it(`parseConfig › ${what} › refused, naming ADMIN_TOKEN`, () => {
      assert.ok(adminTokenWeakness(token), token);
      assert.throws(() => parseConfig({ ADMIN_TOKEN: token }), /ADMIN_TOKEN: /);
    });
  }

  const accepted: [string, string][] = [
    ['openssl rand -base64 32', 'q3V9n0m2Jb8yXo1W7hTt4kLr6Zp5Ue0sAa9cDf2Gh1E='],
    ['the development token shape', 'adm_Zk3x9Qp0L2mW7rT5vY8bN1cJ4hF6gD0s'],
    ['a long passphrase', 'correct horse battery staple, but longer'],
  ];
  for (const [what, token] of accepted) {
    it(`parseConfig › ${what} › accepted`, () => {
      assert.equal(adminTokenWeakness(token), undefined);
      assert.equal(parseConfig({ ADMIN_TOKEN: token }).ADMIN_TOKEN, token);
    });
  }

  it('parseConfig › a weak token and another bad key › both reported together', () => {
    assert.throws(
      () => parseConfig({ ADMIN_TOKEN: 'x'.repeat(40), RATE_LIMIT_RPS: '50', RATE_LIMIT_BURST: '10' }),
      (err: Error) => {
        assert.match(err.message, /ADMIN_TOKEN: /);
        assert.match(err.message, /RATE_LIMIT_BURST: /);
        return true;
      },
    );
  });

  for (const entry of ['services/api/server.ts', 'workers/main.ts']) {
    it(`${entry} › ADMIN_TOKEN of one repeated character › exits 1 with one message and no stack trace`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry)], {
        cwd: root,
        env: { ...process.env, ADMIN_TOKEN: 'a'.repeat(32) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      clearTimeout(timer);
      assert.equal(code, 1);
      assert.match(stderr, /^invalid configuration:\n {2}ADMIN_TOKEN: .+\n$/);
      assert.doesNotMatch(stderr + stdout, /\n\s+at /, 'no stack trace');
    });
  }
});
