import type { Directory } from './api';

/** How the console names each identity provider a directory can be made for. */
export const PROVIDER_LABELS: Record<Directory['provider'], string> = {
  entra: 'Microsoft Entra ID',
  okta: 'Okta',
  google: 'Google Workspace',
  onelogin: 'OneLogin',
  jumpcloud: 'JumpCloud',
  generic: 'Other SCIM client',
};

export const PROVIDERS = Object.keys(PROVIDER_LABELS) as Directory['provider'][];
