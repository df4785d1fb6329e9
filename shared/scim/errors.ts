/** The scimType values a SCIM error body may carry. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

// Which status each scimType may travel with: 400 for all but uniqueness (only 409) and sensitive (also 403).
const ALLOWED_STATUS: Record<ScimType, readonly number[]> = {
  invalidFilter: [400],
  tooMany: [400],
  uniqueness: [409],
  mutability: [400],
  invalidSyntax: [400],
  invalidPath: [400],
  noTarget: [400],
  invalidValue: [400],
  invalidVers: [400],
  sensitive: [400, 403],
};

export const SCIM_TYPES = Object.keys(ALLOWED_STATUS) as readonly ScimType[];

/**
 * The one error of the SCIM layer. Shared code throws it; only the API's error middleware turns
 * it into an HTTP response. Impossible status/scimType pairs fail at construction.
 */
export class ScimError extends Error {
  override readonly name = 'ScimError';

  constructor(
    readonly status: number,
    readonly scimType: ScimType | undefined,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    if (status < 400 || status > 599) throw new TypeError(`ScimError status ${status} is not an error status`);
    if (scimType && !ALLOWED_STATUS[scimType].includes(status)) {
      throw new TypeError(`scimType "${scimType}" cannot travel with status ${status}`);
    }
  }

  toJSON() {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.detail,
    };
  }
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimError(400, scimType, detail);
export const notFound = (detail: string) => new ScimError(404, undefined, detail);
export const conflict = (detail: string) => new ScimError(409, 'uniqueness', detail);
