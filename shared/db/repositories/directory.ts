import type { Database, Sql, Transaction } from '../sequelize';
import { DirectoryKeys } from './api-keys';
import { EventWriter } from './events';
import { GroupRepository } from './groups';
import { ReconcileRepository } from './reconcile';
import { DirectoryReconcileReports } from './reconcile-reports';
import { DirectoryActivity } from './scim-activity';
import type { DirectoryScope } from './scope';
import { DirectorySetupLinks } from './setup-links';
import { UniqueValues } from './uniqueness';
import { UserRepository } from './users';

/**
 * One directory's repositories, each bound to it: the only way the SCIM services reach its rows.
 * Made per request, so each is built when first used.
 */
export class DirectoryRepositories {
  private readonly sql: Sql;
  private userRepository?: UserRepository;
  private groupRepository?: GroupRepository;
  private uniqueRepository?: UniqueValues;
  private keyRepository?: DirectoryKeys;
  private reportRepository?: DirectoryReconcileReports;
  private setupLinkRepository?: DirectorySetupLinks;
  private activityRepository?: DirectoryActivity;

  constructor(
    private readonly db: Database,
    readonly scope: DirectoryScope,
  ) {
    this.sql = db.forDirectory(scope);
  }

  get users(): UserRepository {
    this.userRepository ??= new UserRepository(this.db, this.scope);
    return this.userRepository;
  }

  get groups(): GroupRepository {
    this.groupRepository ??= new GroupRepository(this.db, this.scope);
    return this.groupRepository;
  }

  /** Values of extension attributes declared unique. */
  get uniqueValues(): UniqueValues {
    this.uniqueRepository ??= new UniqueValues(this.db, this.scope);
    return this.uniqueRepository;
  }

  /** The directory's SCIM API keys. */
  get apiKeys(): DirectoryKeys {
    this.keyRepository ??= new DirectoryKeys(this.sql, this.scope);
    return this.keyRepository;
  }

  /** On-demand reconciliation: its reports, and the counters and re-emits it rewrites. */
  get reconcileReports(): DirectoryReconcileReports {
    this.reportRepository ??= new DirectoryReconcileReports(this.sql, this.scope);
    return this.reportRepository;
  }

  /** The links the operator hands the customer's IT admin, and the setup page they open. */
  get setupLinks(): DirectorySetupLinks {
    this.setupLinkRepository ??= new DirectorySetupLinks(this.sql, this.scope);
    return this.setupLinkRepository;
  }

  /** The directory's recent SCIM requests and latest times, as its setup page shows them. */
  get activity(): DirectoryActivity {
    this.activityRepository ??= new DirectoryActivity(this.sql, this.scope.directoryId);
    return this.activityRepository;
  }

  reconcile(): ReconcileRepository {
    return new ReconcileRepository(this.db, this.scope);
  }

  /** The outbox of this directory, recording `actor` (e.g. `api_key:<id>`) on each event. */
  events(actor: string): EventWriter {
    return new EventWriter(this.db, this.scope, actor);
  }

  /** A transaction in this directory's scope; the repositories above take it as `t`. */
  transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
    return this.sql.transaction(work);
  }
}
