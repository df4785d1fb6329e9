import http from 'node:http';

export interface NoisyNeighbourOptions {
  /** The API's SCIM base, e.g. http://127.0.0.1:3901/scim/v2. */
  readonly scimUrl: string;
  /** The quiet directory's key and user names to look up (it keeps the platform's default limit). */
  readonly quiet: { readonly token: string; readonly userNames: readonly string[] };
  /** The noisy directory's key; its limit is `noisyLimit` requests/s. */
  readonly noisy: { readonly token: string };
  readonly noisyLimit: number;
  /** Requests/s the quiet directory sends (Entra's pace: 25 to 50). */
  readonly quietRate: number;
  /** Requests/s the noisy directory offers (ten times its limit). */
  readonly noisyRate: number;
  readonly seconds: number;
  readonly log: (s: string) => void;
}

export interface Phase {
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly statuses: Record<string, number>;
}

export interface NoisyNeighbourFigures {
  readonly quietAlone: Phase[];
  readonly quietBeside: Phase;
  readonly noisy: Phase;
  /** Quiet p99 beside the noisy directory over its p99 alone (mean of the runs before and after). Target ≤ 1.20. */
  readonly p99Ratio: number;
  /** Share of the noisy directory's requests answered 429. */
  readonly noisy429Share: number;
}

let created = 0;

/**
 * Does one directory over its limit slow another down? The quiet directory sends an Entra-shaped
 * mix at its pace (nine `userName eq` lookups, of which a third miss, to one create), alone, then
 * beside a directory offering ten times its limit, then alone again (the machine drifts; the two
 * alone runs frame the other). Paced, open-loop load (see paced), so latency is measured at a
 * fixed offered rate, as Entra offers it, not at saturation.
 */
export async function runNoisyNeighbourBench(o: NoisyNeighbourOptions): Promise<NoisyNeighbourFigures> {
  const quietRun = () =>
    paced(o.scimUrl, o.quiet.token, o.quietRate, 4, o.seconds, (i) => {
      if (i % 10 === 9) {
        const n = ++created;
        return {
          method: 'POST',
          path: '/Users',
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: `quiet-new-${process.pid}-${n}@quiet.example`,
            externalId: `quiet-new-${process.pid}-${n}`,
            active: true,
            name: { givenName: 'Quiet', familyName: `User${n}` },
          }),
        };
      }
      const name = i % 3 === 0 ? `missing-${i}@quiet.example` : o.quiet.userNames[Math.floor(Math.random() * o.quiet.userNames.length)];
      return { method: 'GET', path: `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}` };
    });
  const noisyRun = () =>
    paced(o.scimUrl, o.noisy.token, o.noisyRate, 20, o.seconds, (i) => ({
      method: 'GET',
      path: `/Users?filter=${encodeURIComponent(`userName eq "noisy-${i}@noisy.example"`)}`,
    }));

  o.log(`noisy neighbour: quiet directory alone at ${o.quietRate}/s for ${o.seconds} s`);
  const before = await quietRun();
  o.log(`noisy neighbour: quiet at ${o.quietRate}/s beside a directory offering ${o.noisyRate}/s against its limit of ${o.noisyLimit}/s`);
  const [quietBeside, noisy] = await Promise.all([quietRun(), noisyRun()]);
  o.log('noisy neighbour: quiet directory alone again');
  const afterwards = await quietRun();

  const aloneP99 = (before.p99 + afterwards.p99) / 2;
  const noisyTotal = Object.values(noisy.statuses).reduce((n, c) => n + c, 0);
  return {
    quietAlone: [before, afterwards],
    quietBeside,
    noisy,
    p99Ratio: quietBeside.p99 / aloneP99,
    noisy429Share: (noisy.statuses['429'] ?? 0) / noisyTotal,
  };
}

/**
 * Open-loop load: request k leaves at start + k/rate whatever the earlier ones are doing, as
 * Entra's cycles do (autocannon's rate option sends each second's share in one burst at the
 * second's start, which would measure its own queueing). Latency is send to last byte.
 */
async function paced(
  url: string,
  token: string,
  rate: number,
  maxSockets: number,
  seconds: number,
  next: (i: number) => { method: 'GET' | 'POST'; path: string; body?: string },
): Promise<Phase> {
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  const send = (i: number) => {
    const r = next(i);
    const started = performance.now();
    const done = new Promise<void>((resolve) => {
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method: r.method,
          path: base.pathname + r.path,
          timeout: 10_000,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json', ...(r.body ? { 'Content-Length': Buffer.byteLength(r.body) } : {}) },
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            latencies.push(performance.now() - started);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end(r.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) send(sent++);
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 2);
  });
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
  return { requests: latencies.length, p50: at(0.5), p99: at(0.99), statuses };
}

/** The figures as a markdown table for BENCHMARKS.md. */
export function noisyNeighbourTable(f: NoisyNeighbourFigures, o: Pick<NoisyNeighbourOptions, 'quietRate' | 'noisyRate' | 'noisyLimit'>): string {
  const row = (name: string, p: Phase) =>
    `| ${name} | ${p.requests} | ${p.p50} | ${p.p99} | ${Object.entries(p.statuses).map(([c, n]) => `${c}: ${n}`).join(', ')} |`;
  return [
    `| noisy neighbour (quiet ${o.quietRate}/s; noisy offers ${o.noisyRate}/s, limit ${o.noisyLimit}/s) | requests | p50 ms | p99 ms | statuses |`,
    '|---|---:|---:|---:|---|',
    row('quiet alone (before)', f.quietAlone[0]),
    row('quiet beside the noisy directory', f.quietBeside),
    row('quiet alone (after)', f.quietAlone[1]),
    row('noisy directory', f.noisy),
    '',
    `quiet p99 beside / alone: ${f.p99Ratio.toFixed(2)} (target ≤ 1.20); noisy directory answered 429: ${(f.noisy429Share * 100).toFixed(1)} %`,
  ].join('\n');
}
