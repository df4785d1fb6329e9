import type { TenantId } from '../../ids';
import type { AuditExportJob, GroupReconcileJob, JobSweep } from '../../queue/catalog';
import { encryptionKeyFrom, SecretBox } from '../../secrets';
import type { DependencyCheck } from '../../telemetry/health';
import { postgresCheck } from '../health';
import type { Database } from '../sequelize';
import { KeyResolver } from './api-keys';
import { AuditExportRows } from './audit-export-rows';
import { auditExportSweep, TenantExports } from './audit-exports';
import { DeliveryBatches } from './delivery-batches';
import { DeliverySweep } from './delivery-sweep';
import { DirectoryRepositories } from './directory';
import { EventPartitions } from './event-partitions';
import { type EventFeedOptions, type EventFeedPage, listTenantEvents } from './events';
import { ExtensionSchemaRepository } from './extension-schemas';
import { CrossTenantOutbox } from './outbox-positions';
import { reconcileReportSweep } from './reconcile-reports';
import { FailingDirectories, ScimActivityWriter } from './scim-activity';
import type { DirectoryScope } from './scope';
import { SetupLinkResolver } from './setup-links';
import { TenantRepository } from './tenants';
import { TenantWebhooks } from './webhooks';

/**
 * The data layer as services and workers see it: repositories bound to a directory or a tenant,
 * and the operator's few cross-tenant ones, named as such. Nothing outside shared/db holds the
 * Database; every statement runs in the scope its repository was bound to, and row-level
 * security (migration 0008) holds it there.
 */
export class Repositories {
  /** The platform's own records, across tenants: used by the admin API, the sweepers and authentication. */
  readonly operator: OperatorRepositories;
  private readonly batches: DeliveryBatches;

  constructor(
    private readonly db: Database,
    /** Seals webhook secrets at rest (AES-256-GCM under WEBHOOK_ENCRYPTION_KEY). */
    private readonly secrets: SecretBox,
  ) {
    this.operator = new OperatorRepositories(db);
    // One for the process: it batches the delivery worker's statements across tenants.
    this.batches = new DeliveryBatches(db, secrets);
  }

  /** One directory's users, groups, events, keys, reconciliation, setup links and activity. */
  forDirectory(scope: DirectoryScope): DirectoryRepositories {
    return new DirectoryRepositories(this.db, scope);
  }

  /** One tenant's webhooks, deliveries, audit exports and events feed. */
  forTenant(tenantId: TenantId): TenantRepositories {
    return new TenantRepositories(this.db, tenantId, this.secrets, this.batches);
  }
}

/** The process's repositories over `db`, sealing webhook secrets under the configured key. */
export function repositoriesFor(db: Database, settings: { readonly NODE_ENV: string; readonly WEBHOOK_ENCRYPTION_KEY?: string }): Repositories {
  return new Repositories(db, new SecretBox(encryptionKeyFrom(settings)));
}

/** Cross-tenant by purpose; each is named where it is used. */
export class OperatorRepositories {
  /** Tenants and their directories (the admin API's). */
  readonly tenants: TenantRepository;
  /** API keys by token: the key is all a request has until it is resolved. */
  readonly keys: KeyResolver;
  /** Setup links by secret, likewise: the secret is all the setup page's request has. */
  readonly setupLinks: SetupLinkResolver;
  /** The API processes' record of answered SCIM requests, written for many directories at once. */
  readonly scimActivity: ScimActivityWriter;
  /** Directories whose recent SCIM requests mostly failed, read from that record. */
  readonly failingDirectories: FailingDirectories;
  /** Platform-wide and per-directory extension schemas. */
  readonly extensionSchemas: ExtensionSchemaRepository;
  /** The rows whose jobs the sweepers re-drive when Redis lost them. */
  readonly sweeps: {
    readonly deliveries: DeliverySweep;
    readonly auditExports: JobSweep<AuditExportJob>;
    readonly groupReconciles: JobSweep<GroupReconcileJob>;
  };
  /** The events table's partitions: the next ones made ahead, expired ones dropped (workers' upkeep). */
  readonly eventPartitions: EventPartitions;
  /** The readiness probes' PostgreSQL check. */
  readonly health: DependencyCheck;

  constructor(private readonly db: Database) {
    this.tenants = new TenantRepository(db);
    this.keys = new KeyResolver(db.acrossTenants());
    this.setupLinks = new SetupLinkResolver(db.acrossTenants());
    this.scimActivity = new ScimActivityWriter(db.acrossTenants());
    this.failingDirectories = new FailingDirectories(db.acrossTenants());
    this.extensionSchemas = new ExtensionSchemaRepository(db);
    this.sweeps = { deliveries: new DeliverySweep(db), auditExports: auditExportSweep(db), groupReconciles: reconcileReportSweep(db) };
    this.eventPartitions = new EventPartitions(db);
    this.health = postgresCheck(db);
  }

  /** The outbox as the relay reads it: every tenant's events past the named position. */
  outbox(positionName: string): CrossTenantOutbox {
    return new CrossTenantOutbox(this.db, positionName);
  }
}

/** One tenant's repositories, each bound to it. */
export class TenantRepositories {
  private webhookRepository?: TenantWebhooks;
  private exportRepository?: TenantExports;

  constructor(
    private readonly db: Database,
    readonly tenantId: TenantId,
    private readonly secrets: SecretBox,
    private readonly batches: DeliveryBatches,
  ) {}

  get webhooks(): TenantWebhooks {
    this.webhookRepository ??= new TenantWebhooks(this.db.forTenant(this.tenantId), this.secrets, this.batches, this.tenantId);
    return this.webhookRepository;
  }

  get exports(): TenantExports {
    this.exportRepository ??= new TenantExports(this.db.forTenant(this.tenantId), this.tenantId);
    return this.exportRepository;
  }

  /** The tenant's events as audit-export lines. */
  get exportRows(): AuditExportRows {
    return new AuditExportRows(this.db.forTenant(this.tenantId), this.tenantId);
  }

  /** The tenant's events feed, oldest first, after a cursor, optionally filtered. */
  events(options: EventFeedOptions): Promise<EventFeedPage> {
    return listTenantEvents(this.db.forTenant(this.tenantId), this.tenantId, options);
  }
}
