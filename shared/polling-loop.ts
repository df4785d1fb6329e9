/**
 * The background loops of the workers (the outbox relay, the job sweeper): run a pass, sleep what
 * it asks, again, until closed. `close()` cuts a sleep short and waits for the pass in progress,
 * so a process never stops halfway through a batch; it is safe to call twice.
 *
 *   const loop = new PollingLoop(async () => { await relayOnce(); return 100; });
 *   loop.start();
 *   await loop.close();
 */
export class PollingLoop {
  private stopping = false;
  private running?: Promise<void>;
  private closing?: Promise<void>;
  private wake?: () => void;

  /**
   * @param pass one pass; resolves with the pause before the next, in ms (0: at once). It handles
   * its own errors: a rejection ends the loop and is what `close()` rejects with.
   */
  constructor(private readonly pass: () => Promise<number>) {}

  /** True once close() was called: a long pass checks it between batches. */
  get stopped(): boolean {
    return this.stopping;
  }

  /** Starts the loop after `initialDelayMs` (default 0); returns at once. A second call does nothing. */
  start(initialDelayMs = 0): void {
    this.running ??= this.run(initialDelayMs);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.wake?.();
      await this.running;
    })();
    return this.closing;
  }

  private async run(initialDelayMs: number): Promise<void> {
    await this.sleep(initialDelayMs);
    while (!this.stopping) await this.sleep(await this.pass());
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/** Rejects with `timeoutError()` if `work` has not settled within `ms`; a late rejection of `work` is swallowed. */
export function withTimeout<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => undefined);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Checks a factory's numeric options once, when it is built: each must be a positive integer. */
export function assertPositiveIntegers(owner: string, values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${owner}: ${key} must be a positive integer, got ${value}`);
  }
}
