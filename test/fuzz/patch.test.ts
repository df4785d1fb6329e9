/**
 * Property tests of PATCH (shared/scim/patch) through the real app on a listening port:
 * Entra-shaped and random PatchOp bodies against a stored user and group. Run counts, budgets
 * and replaying a failure: see ./arbitraries.ts (FUZZ_SEED, FUZZ_RUNS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bodyText, fuzzParameters, GROUP_PATHS, patchBody, USER_PATHS } from './arbitraries';
import { FUZZ_EXTENSION, isScimError, startFuzzTarget, type FuzzTarget } from './http-support';

describe('fuzz › PATCH through the app', { timeout: 90_000 }, () => {
  let target: FuzzTarget;
  before(async () => {
    target = await startFuzzTarget();
  });
  after(() => target.close());

  for (const type of ['Users', 'Groups'] as const) {
    it(`PATCH /${type}/{id} › arbitrary PatchOp bodies › never 5xx; a rejected one leaves the resource byte for byte (meta.version too) and writes no event`, async (t) => {
      const id = type === 'Users' ? target.userId : target.groupId;
      const ids = [target.userId, target.otherUserId, target.groupId, '00000000-0000-0000-0000-000000000000'];
      const paths =
        type === 'Users'
          ? [...USER_PATHS, `${FUZZ_EXTENSION}:level`, `${FUZZ_EXTENSION}:lastSeen`, `${FUZZ_EXTENSION}:aliases[value eq "a"].primary`, FUZZ_EXTENSION]
          : GROUP_PATHS;
      const params = fuzzParameters<[string]>(600, 8_000);
      t.diagnostic(`seed ${params.seed}`);

      await fc.assert(
        fc.asyncProperty(bodyText(patchBody(paths, ids)), async (body) => {
          const before = await target.send('GET', `/scim/v2/${type}/${id}`);
          const storedBefore = await target.stored();

          const res = await target.send('PATCH', `/scim/v2/${type}/${id}`, { body });

          assert.ok(res.status < 500, `PATCH answered ${res.status}: ${res.text.slice(0, 300)}`);
          if (res.status >= 400) {
            assert.ok(isScimError(res), `a ${res.status} without a SCIM error body: ${res.text.slice(0, 200)}`);
            assert.equal((await target.send('GET', `/scim/v2/${type}/${id}`)).text, before.text);
            assert.deepEqual(await target.stored(), storedBefore);
          }
        }),
        params,
      );
    });
  }
});
