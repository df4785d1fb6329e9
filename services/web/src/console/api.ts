import type { z } from 'zod';
import type { OperatorSessionView as Session } from '../../../api/middleware/operator-session';
import type * as shapes from '../../../api/routes/admin/shapes';
import { callApi } from '../common/api';

export type { Session };

let csrfToken: string | undefined;

/** The session's CSRF token, which every change sent to /admin/v1 carries (middleware/operator-session.ts). */
export function setSessionToken(token: string | undefined): void {
  csrfToken = token;
}

const withCsrf = (headers: Headers) => {
  if (csrfToken) headers.set('X-CSRF-Token', csrfToken);
};

/** A call to the admin API (`/admin/v1` + path), authenticated by the session cookie. */
export const admin = <T>(path: string, init?: { method?: string; body?: unknown }): Promise<T> => callApi<T>(withCsrf, `/admin/v1${path}`, init);

export const session = {
  current: () => callApi<Session>(() => {}, '/admin/session'),
  signIn: (token: string) => callApi<Session>(() => {}, '/admin/session', { method: 'POST', body: { token } }),
  signOut: () => callApi<void>(() => {}, '/admin/session', { method: 'DELETE' }),
};

/** The admin API's lists. */
export interface List<T> {
  readonly data: T[];
}

// The answers' types, from the schemas that document them (services/api/routes/admin/shapes.ts).
export type Tenant = z.infer<typeof shapes.tenantShape>;
export type Directory = z.infer<typeof shapes.directoryShape>;
export type CreatedDirectory = z.infer<typeof shapes.createdDirectoryShape>;
export type ApiKey = z.infer<typeof shapes.apiKeyShape>;
export type IssuedKey = z.infer<typeof shapes.issuedKeyShape>;
export type SetupLink = z.infer<typeof shapes.setupLinkShape>;
export type CreatedSetupLink = z.infer<typeof shapes.createdSetupLinkShape>;
export type Schema = z.infer<typeof shapes.schemaShape>;
export type WebhookEndpoint = z.infer<typeof shapes.webhookEndpointShape>;
export type WebhookWithSecret = z.infer<typeof shapes.webhookWithSecretShape>;
export type Delivery = z.infer<typeof shapes.deliveryShape>;
export type DeliveryDetail = z.infer<typeof shapes.deliveryDetailShape>;
export type DeliveryPage = z.infer<typeof shapes.deliveryPageShape>;
export type ReplayResult = z.infer<typeof shapes.replayResultShape>;
export type Event = z.infer<typeof shapes.eventShape>;
export type EventPage = z.infer<typeof shapes.eventPageShape>;
export type AuditExport = z.infer<typeof shapes.auditExportShape>;
