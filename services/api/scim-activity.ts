import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { hashToken } from '../../shared/db/repositories/api-keys';
import {
  type DirectoryActivityMarks,
  REQUESTS_KEPT_PER_DIRECTORY,
  type ScimActivityBatch,
  type ScimActivityWriter,
  type ScimRequestRecord,
} from '../../shared/db/repositories/scim-activity';
import type { DirectoryId } from '../../shared/ids';
import { assertPositiveIntegers, withTimeout } from '../../shared/polling-loop';
import { type DirectorySchemas, resolvePath } from '../../shared/scim/schema-registry';
import type { ResourceTypeName } from '../../shared/scim/schema-types';
import type { Logger } from '../../shared/telemetry/logger';
import { recordActivityDropped } from '../../shared/telemetry/metrics';
import type { DirectoryPrincipal } from './directory-resolver';
import { answeredError } from './middleware/errors';
import type { RequestObserver } from './middleware/request-log';

export interface ScimActivityOptions {
  /** Where batches go: one statement each (shared/db/repositories/scim-activity.ts). */
  readonly writer: Pick<ScimActivityWriter, 'append'>;
  readonly logger: Logger;
  /** How often the buffer is written, in ms. Default 1,000. */
  readonly flushIntervalMs?: number;
  /** Requests held in memory at most, all directories together; past it the oldest go. Default 5,000. */
  readonly maxBuffered?: number;
  /** Directories held in memory at most; past it the one waiting longest goes. Default 5,000. */
  readonly maxDirectories?: number;
  /** Requests held per directory: the newest, as many as PostgreSQL keeps of it. Default REQUESTS_KEPT_PER_DIRECTORY. */
  readonly keepPerDirectory?: number;
  /** Longest close() waits for the last batch, in ms, so a hung PostgreSQL cannot hold shutdown. Default 2,000. */
  readonly closeTimeoutMs?: number;
}

/** What is held for one directory (or, for 401s, one token hash) until the next flush. */
interface Pending {
  readonly requests: ScimRequestRecord[];
  marks?: { directoryId: DirectoryId; lastRequestAt: Date; lastChangeAt?: Date; testConnectionAt?: Date };
}

/** At most one log line per this many ms while batches fail. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Each API process's record of the SCIM requests it answered, for the setup page, kept off the
 * request path: `record` only adds to memory, and a timer writes what gathered every second in
 * one statement. Memory is bounded whatever happens: per directory only the newest requests are
 * held (PostgreSQL keeps no more of them anyway), and in all at most `maxBuffered` requests and
 * `maxDirectories` directories; past that the oldest are dropped and counted in
 * scim_activity_dropped_total. While PostgreSQL is down a failed batch goes back in front of what
 * arrived meanwhile, under the same bounds, and is tried again on the next tick. `close()` writes
 * what is left once more; safe to call twice.
 */
export class ScimActivityRecorder {
  private pending = new Map<string, Pending>();
  private buffered = 0;
  private flushing?: Promise<void>;
  private closing?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private failedAt = -Infinity;
  private readonly maxBuffered: number;
  private readonly maxDirectories: number;
  private readonly keep: number;

  constructor(private readonly options: ScimActivityOptions) {
    this.maxBuffered = options.maxBuffered ?? 5_000;
    this.maxDirectories = options.maxDirectories ?? 5_000;
    this.keep = options.keepPerDirectory ?? REQUESTS_KEPT_PER_DIRECTORY;
    const interval = options.flushIntervalMs ?? 1_000;
    assertPositiveIntegers('ScimActivityRecorder', {
      maxBuffered: this.maxBuffered,
      maxDirectories: this.maxDirectories,
      keepPerDirectory: this.keep,
      flushIntervalMs: interval,
      closeTimeoutMs: options.closeTimeoutMs ?? 2_000,
    });
    // A tick while a batch is still being written waits for the next one.
    this.timer = setInterval(() => {
      if (!this.flushing) void this.flush();
    }, interval);
    this.timer.unref();
  }

  /** Notes one answered request; never waits, never throws. */
  record(request: ScimRequestRecord, change = false): void {
    if (this.closing) return;
    const key = request.directoryId ?? `key:${request.keyHash?.toString('base64')}`;
    const pending = this.pendingFor(key);
    this.push(pending, request);
    if (request.directoryId) note(pending, request.directoryId, request.at, change, request.testConnection);
  }

  /** Requests held now (for tests and the metrics of a future). */
  get size(): number {
    return this.buffered;
  }

  /** Writes what is held now; one batch in flight at a time. Resolves when it is written or has gone back. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.pending.size === 0) return Promise.resolve();
    const taken = this.pending;
    this.pending = new Map();
    this.buffered = 0;
    this.flushing = this.options.writer
      .append(batchOf(taken.values()))
      .then(
        () => undefined,
        (err: unknown) => this.putBack(taken, err),
      )
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /** Stops the timer and writes what is left, within closeTimeoutMs; what is not written is counted as dropped. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      const timeoutMs = this.options.closeTimeoutMs ?? 2_000;
      await withTimeout(this.flush(), timeoutMs, () => new Error(`the last batch was not written within ${timeoutMs} ms`)).catch((err: unknown) =>
        this.options.logger.warn({ err }, 'SCIM request log: last batch not written at shutdown'),
      );
      recordActivityDropped('shutdown', this.buffered);
      this.pending.clear();
      this.buffered = 0;
    })();
    return this.closing;
  }

  private pendingFor(key: string): Pending {
    let pending = this.pending.get(key);
    if (!pending) {
      if (this.pending.size >= this.maxDirectories) this.dropFirstDirectory();
      pending = { requests: [] };
      this.pending.set(key, pending);
    }
    return pending;
  }

  private push(pending: Pending, request: ScimRequestRecord): void {
    pending.requests.push(request);
    this.buffered++;
    // PostgreSQL keeps only the newest of a directory: older ones are not lost, just superseded.
    if (pending.requests.length > this.keep) {
      pending.requests.shift();
      this.buffered--;
    }
    while (this.buffered > this.maxBuffered) this.dropOldest();
  }

  /** Drops the oldest request of the directory that has waited longest (the map's first with any). */
  private dropOldest(): void {
    for (const [key, pending] of this.pending) {
      if (pending.requests.length > 0) {
        pending.requests.shift();
        this.buffered--;
        recordActivityDropped('overflow');
        return;
      }
      // Only times left: to the back of the line, so the next search does not pass it again.
      this.pending.delete(key);
      this.pending.set(key, pending);
    }
  }

  private dropFirstDirectory(): void {
    const first = this.pending.entries().next().value;
    if (!first) return;
    const [key, pending] = first;
    this.pending.delete(key);
    this.buffered -= pending.requests.length;
    recordActivityDropped('overflow', pending.requests.length);
  }

  /** A batch that failed goes back in front of what arrived since, under the same bounds. */
  private putBack(taken: Map<string, Pending>, err: unknown): void {
    const arrived = this.pending;
    this.pending = new Map();
    this.buffered = 0;
    for (const source of [taken, arrived]) {
      for (const [key, from] of source) {
        const into = this.pendingFor(key);
        for (const request of from.requests) this.push(into, request);
        if (from.marks) {
          const { directoryId, lastRequestAt, lastChangeAt, testConnectionAt } = from.marks;
          note(into, directoryId, lastRequestAt, false, false);
          if (lastChangeAt) note(into, directoryId, lastChangeAt, true, false);
          if (testConnectionAt) note(into, directoryId, testConnectionAt, false, true);
        }
      }
    }
    if (Date.now() - this.failedAt >= FAILURE_LOG_INTERVAL_MS) {
      this.failedAt = Date.now();
      this.options.logger.warn({ err, held: this.buffered }, 'could not write the SCIM request log; kept in memory and retried');
    }
  }
}

function note(pending: Pending, directoryId: DirectoryId, at: Date, change: boolean, testConnection: boolean): void {
  const marks = (pending.marks ??= { directoryId, lastRequestAt: at });
  if (at > marks.lastRequestAt) marks.lastRequestAt = at;
  if (change && !(marks.lastChangeAt && marks.lastChangeAt >= at)) marks.lastChangeAt = at;
  if (testConnection && !(marks.testConnectionAt && marks.testConnectionAt >= at)) marks.testConnectionAt = at;
}

function batchOf(pendings: Iterable<Pending>): ScimActivityBatch {
  const requests: ScimRequestRecord[] = [];
  const marks: DirectoryActivityMarks[] = [];
  for (const p of pendings) {
    requests.push(...p.requests);
    if (p.marks) marks.push(p.marks);
  }
  return { requests, marks };
}

const SCIM_PATH = /^\/scim\/v[12](\/|$)/;
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BEARER = /^Bearer +(\S+) *$/i;
// Resource routes by template (without the list route's trailing slash): /scim/v1/Users, …/Users/:id, …/Users/.search.
const RESOURCE_ROUTE = /^\/scim\/v[12]\/(Users|Groups)(\/|\/:id|\/\.search)?$/;
// Paths no route matched (a 401 is answered before routing): their template, never their ids.
const KNOWN_PATH = /^(\/scim\/v[12])\/(Users|Groups|Bulk|Schemas|ResourceTypes|ServiceProviderConfig)(\/[^/]+)?\/?$/;
// Entra's "Test connection": a lookup by a random GUID, which finds nothing.
const GUID_LOOKUP = /^\s*(userName|displayName)\s+eq\s+"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"\s*$/i;

/** Where the list route notes how many resources it found (res.locals), so Test connection's empty answer is known. */
const LISTED = 'scimListTotal';

/** Called by the list route with the total it answered. */
export function noteListTotal(res: Response, total: number): void {
  res.locals[LISTED] = total;
}

/** The template of a SCIM route, without a router's trailing slash; for unmatched paths one made from the path. */
function templateOf(req: Request, route: string): string {
  if (route !== 'unmatched') return route.length > 1 && route.endsWith('/') ? route.slice(0, -1) : route;
  const m = KNOWN_PATH.exec(req.originalUrl.split('?')[0]);
  return m ? `${m[1]}/${m[2]}${m[3] ? '/:id' : ''}` : route;
}

/**
 * Entra's "Test connection": GET /Users?filter=userName eq "<random GUID>" (or /Groups by
 * displayName) answered 200 with an empty list. A real lookup of a GUID-shaped userName that
 * finds nobody looks the same; that is harmless, since it also proves the connection works.
 */
function isTestConnection(req: Request, res: Response, template: string): boolean {
  if (req.method !== 'GET' || res.statusCode !== 200 || res.locals[LISTED] !== 0) return false;
  const m = RESOURCE_ROUTE.exec(template);
  if (!m || (m[2] !== undefined && m[2] !== '/')) return false;
  const filter = req.query?.filter;
  const lookup = typeof filter === 'string' ? GUID_LOOKUP.exec(filter) : null;
  return lookup !== null && lookup[1].toLowerCase() === (m[1] === 'Users' ? 'username' : 'displayname');
}

/**
 * The schema attribute an error names, as the directory's schemas spell it, or undefined. The
 * error's detail is only searched for candidates (its quoted names, its leading word): what is
 * stored is built from the schema, so a value quoted in a detail never is.
 */
export function attributeNamed(detail: string, schemas: DirectorySchemas, resourceType: ResourceTypeName): string | undefined {
  const text = detail.replace(/^operation \d+: /, '');
  const candidates = [/^([A-Za-z][\w:.$-]*)/.exec(text)?.[1], ...[...text.matchAll(/"([^"]{1,200})"/g)].map((m) => m[1])];
  for (const candidate of candidates) {
    const path = candidate?.split('[')[0].replace(/[:.,;]+$/, '');
    if (!path) continue;
    try {
      const resolved = resolvePath(schemas.of(resourceType), path);
      if (!resolved.attribute) continue;
      const name = resolved.subAttribute ? `${resolved.attribute.name}.${resolved.subAttribute.name}` : resolved.attribute.name;
      return resolved.extension ? `${resolved.extension}:${name}` : name;
    } catch {
      // Not an attribute of this directory: try the next candidate.
    }
  }
  return undefined;
}

/**
 * The requestLog observer that feeds `recorder`: every SCIM request answered with a directory,
 * and every SCIM 401 by the hash of the token it carried. Reads only what is already at hand
 * (the principal, the status, the route template, the answered error): nothing waits.
 */
export function scimActivityObserver(recorder: ScimActivityRecorder): RequestObserver {
  return (req, res, route) => {
    const principal = (req as Request & { directory?: DirectoryPrincipal }).directory;
    const status = res.statusCode;
    if (!principal) {
      if (status !== 401 || !SCIM_PATH.test(req.originalUrl)) return;
      const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return;
      const template = templateOf(req, route);
      recorder.record({ keyHash: hashToken(token), at: new Date(), method: req.method, route: template, status, testConnection: false });
      return;
    }
    const template = templateOf(req, route);
    const error = status >= 400 ? answeredError(res as ServerResponse) : undefined;
    const resource = RESOURCE_ROUTE.exec(template)?.[1];
    const attribute = error && resource ? attributeNamed(error.detail, principal.schemas, resource === 'Users' ? 'User' : 'Group') : undefined;
    recorder.record(
      {
        directoryId: principal.directoryId,
        at: new Date(),
        method: req.method,
        route: template,
        status,
        scimType: error?.scimType,
        attribute,
        testConnection: isTestConnection(req, res, template),
      },
      WRITES.has(req.method) && status < 300 && !template.endsWith('/.search'),
    );
  };
}
