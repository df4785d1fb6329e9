import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  type Model,
  type ModelAttributes,
  type ModelStatic,
  type Sequelize,
} from 'sequelize';

/**
 * Sequelize models of the admin tables: the operator's and the customer's records, read and
 * written a few at a time. Their columns follow the migrations (snake_case in the table,
 * camelCase here). The SCIM tables (users, groups, membership, events) have no models: their
 * hot paths run parameterised SQL through the executors of shared/db/sequelize.ts.
 *
 * A model call must be given a transaction opened by an executor (`db.forTenant(id).transaction`
 * and the like): that is what sets the scope row-level security filters it by.
 */

type Attributes<M extends Model> = ModelAttributes<M, InferAttributes<M>>;

export interface TenantRecord extends Model<InferAttributes<TenantRecord>, InferCreationAttributes<TenantRecord>> {
  id: string;
  name: string;
  createdAt: CreationOptional<Date>;
  updatedAt: CreationOptional<Date>;
}

export interface DirectoryRecord extends Model<InferAttributes<DirectoryRecord>, InferCreationAttributes<DirectoryRecord>> {
  id: string;
  tenantId: string;
  name: string;
  provider: string;
  region: string;
  schemasRev: CreationOptional<number>;
  rateLimitRps: CreationOptional<number | null>;
  rateLimitBurst: CreationOptional<number | null>;
  createdAt: CreationOptional<Date>;
  updatedAt: CreationOptional<Date>;
}

export interface ApiKeyRecord extends Model<InferAttributes<ApiKeyRecord>, InferCreationAttributes<ApiKeyRecord>> {
  id: string;
  tenantId: string;
  directoryId: string;
  name: string;
  prefix: string;
  tokenHash: Buffer;
  createdAt: CreationOptional<Date>;
  lastUsedAt: CreationOptional<Date | null>;
  revokedAt: CreationOptional<Date | null>;
  /** The setup link that issued the key; null for keys the operator issued. */
  setupLinkId: CreationOptional<string | null>;
}

/** A customer's setup link (migration 0010): only a hash of its secret is stored. */
export interface SetupLinkRecord extends Model<InferAttributes<SetupLinkRecord>, InferCreationAttributes<SetupLinkRecord>> {
  id: string;
  tenantId: string;
  directoryId: string;
  secretHash: Buffer;
  createdAt: CreationOptional<Date>;
  expiresAt: Date;
  revokedAt: CreationOptional<Date | null>;
  lastOpenedAt: CreationOptional<Date | null>;
}

export interface WebhookEndpointRecord extends Model<InferAttributes<WebhookEndpointRecord>, InferCreationAttributes<WebhookEndpointRecord>> {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  /** Null: every event type. */
  eventTypes: string[] | null;
  secretCiphertext: Buffer;
  previousSecretCiphertext: CreationOptional<Buffer | null>;
  previousSecretExpiresAt: CreationOptional<Date | null>;
  status: CreationOptional<'active' | 'failing' | 'disabled'>;
  statusReason: CreationOptional<string | null>;
  failingSince: CreationOptional<Date | null>;
  createdAt: CreationOptional<Date>;
  updatedAt: CreationOptional<Date>;
}

export interface AuditExportRecord extends Model<InferAttributes<AuditExportRecord>, InferCreationAttributes<AuditExportRecord>> {
  id: string;
  tenantId: string;
  fromTime: Date;
  toTime: Date;
  status: CreationOptional<'queued' | 'running' | 'done' | 'failed'>;
  storageKey: CreationOptional<string | null>;
  /** bigint: node-postgres hands it over as a decimal string. */
  eventCount: CreationOptional<string | null>;
  bytes: CreationOptional<string | null>;
  error: CreationOptional<string | null>;
  runs: CreationOptional<number>;
  createdAt: CreationOptional<Date>;
  updatedAt: CreationOptional<Date>;
  completedAt: CreationOptional<Date | null>;
}

export interface ReconcileReportRecord extends Model<InferAttributes<ReconcileReportRecord>, InferCreationAttributes<ReconcileReportRecord>> {
  id: string;
  tenantId: string;
  directoryId: string;
  reemitGroupIds: CreationOptional<string[]>;
  status: CreationOptional<'queued' | 'running' | 'done' | 'failed'>;
  runs: CreationOptional<number>;
  report: CreationOptional<unknown>;
  error: CreationOptional<string | null>;
  createdAt: CreationOptional<Date>;
  updatedAt: CreationOptional<Date>;
  completedAt: CreationOptional<Date | null>;
}

export interface Models {
  readonly Tenant: ModelStatic<TenantRecord>;
  readonly Directory: ModelStatic<DirectoryRecord>;
  readonly ApiKey: ModelStatic<ApiKeyRecord>;
  readonly SetupLink: ModelStatic<SetupLinkRecord>;
  readonly WebhookEndpoint: ModelStatic<WebhookEndpointRecord>;
  readonly AuditExport: ModelStatic<AuditExportRecord>;
  readonly ReconcileReport: ModelStatic<ReconcileReportRecord>;
}

// Functions, not shared objects: Sequelize writes into each attribute's definition, and each
// Database defines its models afresh.
const id = () => ({ type: DataTypes.UUID, primaryKey: true });
const uuid = () => ({ type: DataTypes.UUID, allowNull: false });
const text = () => ({ type: DataTypes.TEXT, allowNull: false });
const optionalText = () => ({ type: DataTypes.TEXT });
const optionalTime = () => ({ type: DataTypes.DATE });
// Left out of inserts: the column's default (the database's now()) fills it in, and the insert
// returns it.
const createdAt = () => ({ type: DataTypes.DATE });
const updatedAt = createdAt;

const tenant = (): Attributes<TenantRecord> => ({ id: id(), name: text(), createdAt: createdAt(), updatedAt: updatedAt() });

const directory = (): Attributes<DirectoryRecord> => ({
  id: id(),
  tenantId: uuid(),
  name: text(),
  provider: text(),
  region: text(),
  schemasRev: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
  rateLimitRps: { type: DataTypes.INTEGER },
  rateLimitBurst: { type: DataTypes.INTEGER },
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

const apiKey = (): Attributes<ApiKeyRecord> => ({
  id: id(),
  tenantId: uuid(),
  directoryId: uuid(),
  name: text(),
  prefix: text(),
  tokenHash: { type: DataTypes.BLOB, allowNull: false },
  createdAt: createdAt(),
  lastUsedAt: optionalTime(),
  revokedAt: optionalTime(),
  setupLinkId: { type: DataTypes.UUID },
});

const setupLink = (): Attributes<SetupLinkRecord> => ({
  id: id(),
  tenantId: uuid(),
  directoryId: uuid(),
  secretHash: { type: DataTypes.BLOB, allowNull: false },
  createdAt: createdAt(),
  expiresAt: { type: DataTypes.DATE, allowNull: false },
  revokedAt: optionalTime(),
  lastOpenedAt: optionalTime(),
});

const webhookEndpoint = (): Attributes<WebhookEndpointRecord> => ({
  id: id(),
  tenantId: uuid(),
  url: text(),
  description: optionalText(),
  eventTypes: { type: DataTypes.ARRAY(DataTypes.TEXT) },
  secretCiphertext: { type: DataTypes.BLOB, allowNull: false },
  previousSecretCiphertext: { type: DataTypes.BLOB },
  previousSecretExpiresAt: optionalTime(),
  status: { type: DataTypes.TEXT, allowNull: false, defaultValue: 'active' },
  statusReason: optionalText(),
  failingSince: optionalTime(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

const auditExport = (): Attributes<AuditExportRecord> => ({
  id: id(),
  tenantId: uuid(),
  fromTime: { type: DataTypes.DATE, allowNull: false },
  toTime: { type: DataTypes.DATE, allowNull: false },
  status: { type: DataTypes.TEXT, allowNull: false, defaultValue: 'queued' },
  storageKey: optionalText(),
  eventCount: { type: DataTypes.BIGINT },
  bytes: { type: DataTypes.BIGINT },
  error: optionalText(),
  runs: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  completedAt: optionalTime(),
});

const reconcileReport = (): Attributes<ReconcileReportRecord> => ({
  id: id(),
  tenantId: uuid(),
  directoryId: uuid(),
  reemitGroupIds: { type: DataTypes.ARRAY(DataTypes.UUID), allowNull: false, defaultValue: [] },
  status: { type: DataTypes.TEXT, allowNull: false, defaultValue: 'queued' },
  runs: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
  report: { type: DataTypes.JSONB },
  error: optionalText(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  completedAt: optionalTime(),
});

/** The models on one Sequelize instance (each Database has its own). */
export function defineModels(sequelize: Sequelize): Models {
  return {
    Tenant: sequelize.define<TenantRecord>('Tenant', tenant(), { tableName: 'tenants' }),
    Directory: sequelize.define<DirectoryRecord>('Directory', directory(), { tableName: 'directories' }),
    ApiKey: sequelize.define<ApiKeyRecord>('ApiKey', apiKey(), { tableName: 'api_keys' }),
    SetupLink: sequelize.define<SetupLinkRecord>('SetupLink', setupLink(), { tableName: 'setup_links' }),
    WebhookEndpoint: sequelize.define<WebhookEndpointRecord>('WebhookEndpoint', webhookEndpoint(), { tableName: 'webhook_endpoints' }),
    AuditExport: sequelize.define<AuditExportRecord>('AuditExport', auditExport(), { tableName: 'audit_exports' }),
    ReconcileReport: sequelize.define<ReconcileReportRecord>('ReconcileReport', reconcileReport(), { tableName: 'reconcile_reports' }),
  };
}
