import type { AttributeMapping } from '../../../../shared/setup/attribute-mappings';
import type { SetupStep } from '../../../../shared/setup/provider-steps';
import type { Explanation } from '../../../../shared/setup/request-explanations';
import { callApi } from '../common/api';

export type { AttributeMapping, Explanation, SetupStep };

/**
 * The setup link's secret: the URL's fragment, which browsers never send to the server, so it
 * stays out of access logs and Referer headers. Empty when the link was cut short.
 */
export const linkSecret = (): string => window.location.hash.replace(/^#/, '').trim();

/** A token this page generated, as the API lists it (never the token itself). */
export interface SetupToken {
  readonly id: string;
  readonly name: string;
  /** The token's first characters, e.g. `scim_us_AbC123…`. */
  readonly prefix: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** GET /setup/v1/directory (services/api/routes/setup.ts). */
export interface SetupDirectory {
  readonly directory: { readonly id: string; readonly name: string; readonly provider: string; readonly providerName: string };
  readonly tenant: { readonly name: string };
  readonly tenantUrl: string;
  readonly link: { readonly expiresAt: string };
  readonly token: SetupToken | null;
  readonly steps: SetupStep[];
  readonly attributeMappings: AttributeMapping[];
  readonly groupMappingNotes: string[];
}

/** POST /setup/v1/token: the token itself, this once. */
export interface IssuedToken extends SetupToken {
  readonly token: string;
  /** The token this one replaced, revoked already. */
  readonly revoked: SetupToken | null;
}

/** One SCIM request the identity provider sent, newest first. */
export interface RecordedRequest {
  readonly at: string;
  readonly method: string;
  /** A route template, e.g. `/scim/v1/Users/:id`. */
  readonly route: string;
  readonly status: number;
  readonly scimType: string | null;
  readonly attribute: string | null;
  readonly testConnection: boolean;
  /** Null for a request that succeeded. */
  readonly explanation: Explanation | null;
}

/** GET /setup/v1/status. */
export interface SetupStatus {
  readonly testConnection: { readonly receivedAt: string } | null;
  readonly lastActivityAt: string | null;
  readonly lastChangeAt: string | null;
  readonly users: number;
  readonly groups: number;
  readonly requests: RecordedRequest[];
}

/** The setup API (`/setup/v1`), authenticated by the link's secret. */
export function setupApi(secret: string) {
  const bearer = (headers: Headers) => headers.set('Authorization', `Bearer ${secret}`);
  return {
    directory: () => callApi<SetupDirectory>(bearer, '/setup/v1/directory'),
    /** Without `confirm`, a 409 when a token generated here exists already. */
    generateToken: (confirm: boolean) => callApi<IssuedToken>(bearer, '/setup/v1/token', { method: 'POST', body: confirm ? { confirm: true } : {} }),
    status: (limit: number) => callApi<SetupStatus>(bearer, `/setup/v1/status?limit=${limit}`),
  };
}

export type SetupApi = ReturnType<typeof setupApi>;
