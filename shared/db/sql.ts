/**
 * The statement's time at millisecond precision: SCIM renders meta.lastModified with
 * milliseconds, so stored times must not carry more, or `meta.lastModified gt "<what we
 * returned>"` would still match the resource itself.
 */
export const NOW_MS = "date_trunc('milliseconds', now())";
