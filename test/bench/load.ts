import autocannon from 'autocannon';

export interface LoadResult {
  readonly name: string;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

export interface LoadOptions {
  readonly name: string;
  readonly url: string;
  readonly connections?: number;
  /** Seconds; ignored when `amount` is set. */
  readonly duration?: number;
  /** Stop after this many requests instead. */
  readonly amount?: number;
  readonly method?: 'GET' | 'POST' | 'PATCH';
  readonly headers?: Record<string, string>;
  /** Builds each request's path and body; called once per request. */
  readonly next: () => { path: string; body?: unknown };
}

/** Drives one scenario with autocannon from this (separate) process against a listening server. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const started = performance.now();
  const result = await autocannon({
    url: o.url,
    connections: o.connections ?? 50,
    ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 10 }),
    requests: [
      {
        method: o.method ?? 'GET',
        headers: o.headers,
        setupRequest: (req) => {
          const { path, body } = o.next();
          return { ...req, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
        },
      },
    ],
  });
  return {
    name: o.name,
    requests: result.requests.total,
    // Total over our own clock: autocannon's average and duration are in whole seconds, which
    // skews a short (amount-bound) run by up to a quarter.
    rps: result.requests.total / ((performance.now() - started) / 1000),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
