import type { Config } from '../shared/config';
import type { Repositories } from '../shared/db/repositories';
import type { RedisClient } from '../shared/queue/redis';
import type { Logger } from '../shared/telemetry/logger';

/** What every processor gets; tests build their own with a fresh queue prefix. */
export interface WorkerDeps {
  readonly repos: Repositories;
  /** A connection factory: BullMQ needs one connection per Worker (blocking commands). */
  readonly redis: () => RedisClient;
  readonly logger: Logger;
  readonly config: Config;
  /** BullMQ key prefix; tests use their own so they never see each other's jobs. Default `scim` (`{scim}` on a Redis Cluster). */
  readonly queuePrefix: string;
}

/** A started processor: stops taking work, finishes what it has, then releases its connections. */
export interface Processor {
  readonly name: string;
  close(): Promise<void>;
}

export type StartProcessor = (deps: WorkerDeps) => Processor | Promise<Processor>;
