import { ScimError } from '../scim/errors';
import { etagOf } from '../scim/render';

/**
 * `If-Match` with a list of ETags or `*`; a version none of them matches is a 412. Weak and
 * strong forms of the same version match, since our versions are exact row versions.
 */
export function checkPrecondition(ifMatch: string | undefined, version: number): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const current = etagOf(version).replace(/^W\//, '');
  const offered = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (!offered.includes(current)) {
    throw new ScimError(412, undefined, `If-Match ${ifMatch} does not match the current version ${etagOf(version)}`);
  }
}

/** `If-None-Match` on reads: true when the client's copy is current (answer 304). */
export function isNotModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const current = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || tag.trim().replace(/^W\//, '') === current);
}
