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
  let lastResponse = started;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
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
      },
      (err, done) => (err ? reject(err) : resolve(done)),
    );
    instance.on('response', () => {
      lastResponse = performance.now();
    });
  });
  return {
    name: o.name,
    requests: result.requests.total,
    // Up to the last response, on our own clock: autocannon's figures are per whole second, and an
    // amount-bound run only ends at the next second's tick, which skews a short run.
    rps: result.requests.total / ((lastResponse - started) / 1000),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
