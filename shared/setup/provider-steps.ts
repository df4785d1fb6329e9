/**
 * What a customer's IT admin does in their identity provider, step by step, as the setup page
 * shows it. Entra's steps follow the vendors' Entra guides; the other providers get the steps
 * every SCIM 2.0 client has in common until each has its own.
 */

/** Where the setup page puts a widget of its own beside a step's text. */
export type SetupAction = 'generateToken' | 'testConnection' | 'userMappings' | 'groupMappings';

export interface SetupStep {
  /** Stable across releases: the page keys its widgets and anchors on it. */
  readonly id: string;
  readonly text: string;
  /** A value to paste into the field the provider names `label` (a copy button on the page). */
  readonly copy?: { readonly label: string; readonly value: string };
  readonly action?: SetupAction;
}

export interface StepContext {
  /** `{PUBLIC_BASE_URL}/scim/v1`. */
  readonly tenantUrl: string;
  /** A name to suggest for the application the customer creates. */
  readonly applicationName: string;
}

const PROVIDER_NAMES: Record<string, string> = {
  entra: 'Microsoft Entra ID',
  okta: 'Okta',
  google: 'Google Workspace',
  onelogin: 'OneLogin',
  jumpcloud: 'JumpCloud',
  generic: 'your identity provider',
};

/** The provider as the page names it in sentences. */
export const providerName = (provider: string): string => PROVIDER_NAMES[provider] ?? PROVIDER_NAMES.generic;

/** The provider's short name, as error explanations use it ("Entra sent …"). */
export const providerShortName = (provider: string): string =>
  provider === 'entra' ? 'Entra' : provider in PROVIDER_NAMES && provider !== 'generic' ? PROVIDER_NAMES[provider] : 'the identity provider';

/** The steps for `provider`, in order. */
export function setupSteps(provider: string, context: StepContext): SetupStep[] {
  return provider === 'entra' ? entraSteps(context) : genericSteps(providerName(provider), context);
}

function entraSteps({ tenantUrl, applicationName }: StepContext): SetupStep[] {
  return [
    { id: 'sign-in', text: 'Sign in to the Microsoft Entra admin center (or the Azure portal) and open Microsoft Entra ID.' },
    { id: 'new-application', text: 'Select Enterprise applications, then + New application.' },
    { id: 'create-your-own', text: 'Select Create your own application.' },
    {
      id: 'name',
      text: `Enter a name (e.g. "${applicationName}") and choose "Integrate any other application you don't find in the gallery (Non-gallery)". Then click Create.`,
    },
    { id: 'provisioning', text: 'In the new application, select Provisioning, then Get started (or Connect your application).' },
    { id: 'automatic', text: 'Set Provisioning Mode to Automatic.' },
    { id: 'tenant-url', text: 'Set the Tenant URL to this directory’s URL.', copy: { label: 'Tenant URL', value: tenantUrl } },
    {
      id: 'secret-token',
      text: 'Set the Secret Token to a token generated here. It is shown only once; if lost, it can be regenerated (the old token then stops working).',
      action: 'generateToken',
    },
    {
      id: 'test-connection',
      text: 'Click Test connection and confirm it succeeds, then click Save (or Create). This page shows when the test arrived.',
      action: 'testConnection',
    },
    {
      id: 'user-mappings',
      text: 'Under Mappings, select Provision Microsoft Entra ID Users. The default mappings work without changes. Add the custom attributes listed here: Show advanced options → Edit attribute list, add each name with its type and Save, then Add New Mapping with it as the target attribute.',
      action: 'userMappings',
    },
    {
      id: 'group-mappings',
      text: 'Under Mappings, select Provision Microsoft Entra ID Groups and verify that externalId is not included in the mapping. Under Advanced options, click Edit attribute list and, for the Referenced Object Attribute of members, uncheck Group so that only the User object remains.',
      action: 'groupMappings',
    },
    {
      id: 'visible-to-users',
      text: 'Optional: under Manage, select Users and groups; if the "visible to users" message appears, click it, select No to Visible to users and click Save. The application is for provisioning only.',
    },
    { id: 'assign', text: 'Under Manage, select Users and groups, click Add user/group and select the users and groups to be provisioned.' },
    {
      id: 'start',
      text: 'Back in Provisioning, set Provisioning Status to On and click Save. Entra then provisions in cycles; this page lists its requests as they arrive.',
    },
  ];
}

function genericSteps(idp: string, { tenantUrl, applicationName }: StepContext): SetupStep[] {
  return [
    { id: 'new-application', text: `In ${idp}, add a SCIM 2.0 provisioning application (e.g. "${applicationName}").` },
    { id: 'tenant-url', text: 'Set the SCIM base URL (also called Tenant URL) to this directory’s URL.', copy: { label: 'SCIM base URL', value: tenantUrl } },
    {
      id: 'secret-token',
      text: 'Choose bearer-token (HTTP header) authentication and paste a token generated here. It is shown only once; if lost, it can be regenerated (the old token then stops working).',
      action: 'generateToken',
    },
    { id: 'test-connection', text: 'Test the connection and save.', action: 'testConnection' },
    { id: 'user-mappings', text: 'Map the user attributes: userName is required; add the custom attributes listed here.', action: 'userMappings' },
    { id: 'group-mappings', text: 'Map the groups: members are users only.', action: 'groupMappings' },
    { id: 'assign', text: 'Assign the users and groups to provision, then turn provisioning on. This page lists the requests as they arrive.' },
  ];
}

/** What to check in the group mappings; the guides' two notes. */
export const GROUP_MAPPING_NOTES: readonly string[] = [
  'Leave externalId out of the group mappings: groups are matched by displayName.',
  'Members are users only: a group cannot be a member of a group. In Entra, under Advanced options → Edit attribute list, uncheck Group for the Referenced Object Attribute of members, so that only User remains.',
];
