import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { cpuMeter } from './process-cpu';

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
  /** The API process, whose CPU per phase is reported. */
  readonly apiPid: number;
  readonly log: (s: string) => void;
}

export interface Phase {
  readonly requests: number;
  /** CPU the API spent during the phase, ms per second of it. */
  readonly apiCpuMsPerS?: number;
  readonly p50: number;
  readonly p99: number;
  readonly statuses: Record<string, number>;
  /** Every request's latency, ms, sorted (for pooling rounds); not printed. */
  readonly latencies: readonly number[];
}

export interface NoisyNeighbourFigures {
  /** The quiet directory alone, and beside the noisy one, each round's phase in order. */
  readonly rounds: { readonly alone: Phase; readonly beside: Phase }[];
  /** All rounds' samples pooled. */
  readonly quietAlone: Phase;
  readonly quietBeside: Phase;
  readonly noisy: Phase;
  /** Pooled quiet p99 beside the noisy directory over pooled quiet p99 alone. Target ≤ 1.20. */
  readonly p99Ratio: number;
  /** Share of the noisy directory's requests answered 429. */
  readonly noisy429Share: number;
}

/** Rounds of (alone, beside): interleaved, so the machine's drift falls on both sides alike. */
const ROUNDS = 3;

let created = 0;

/**
 * Does one directory over its limit slow another down? The quiet directory sends an Entra-shaped
 * mix at its pace (nine `userName eq` lookups, of which a third miss, to one create): after a
 * warm-up that is not counted, three rounds of alone, then beside a directory offering ten times
 * its limit. Each side's samples are pooled over the rounds, because on this shared machine a
 * single phase's p99 (its 6th-worst of 600 samples) drifts too far between two identical runs.
 * Paced, open-loop load (see paced), so latency is measured at a fixed offered rate, as Entra
 * offers it, not at saturation; the noisy load comes from a process of its own.
 */
export async function runNoisyNeighbourBench(o: NoisyNeighbourOptions): Promise<NoisyNeighbourFigures> {
  const quietRun = (seconds: number) =>
    paced(o.scimUrl, o.quiet.token, o.quietRate, 4, seconds, (i) => {
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
  // The noisy directory's load comes from a process of its own: handling its 500 answers a
  // second in this process would delay the quiet requests' timings here, not in the API.
  // Started once, before any round: its start-up (tsx compiling) must not fall into a round.
  const noisyProcess = await startNoisyProcess({ scimUrl: o.scimUrl, token: o.noisy.token, rate: o.noisyRate });
  const withApiCpu = async (seconds: number, phase: Promise<Phase>): Promise<Phase> => {
    const meter = cpuMeter(o.apiPid);
    const done = await phase;
    return { ...done, apiCpuMsPerS: Math.round(meter().apiMs / seconds) };
  };

  const roundSeconds = Math.max(1, Math.round(o.seconds / ROUNDS));
  // Both directories: the noisy client's code and the API's refusal path are cold until then
  // (a first round that started cold stalled).
  o.log(`noisy neighbour: warm-up, both directories for ${roundSeconds} s (not counted)`);
  await Promise.all([quietRun(roundSeconds), noisyProcess.run(roundSeconds)]);
  const rounds: NoisyNeighbourFigures['rounds'] = [];
  const noisyPhases: Phase[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    o.log(
      `noisy neighbour: round ${r}/${ROUNDS}: quiet at ${o.quietRate}/s alone, then beside ${o.noisyRate}/s against a limit of ${o.noisyLimit}/s, ${roundSeconds} s each`,
    );
    const alone = await withApiCpu(roundSeconds, quietRun(roundSeconds));
    const [beside, noisy] = await Promise.all([withApiCpu(roundSeconds, quietRun(roundSeconds)), noisyProcess.run(roundSeconds)]);
    rounds.push({ alone, beside });
    noisyPhases.push(noisy);
  }
  noisyProcess.stop();
  const quietAlone = pooled(rounds.map((r) => r.alone));
  const quietBeside = pooled(rounds.map((r) => r.beside));
  const noisy = pooled(noisyPhases);
  const noisyTotal = Object.values(noisy.statuses).reduce((n, c) => n + c, 0);
  return {
    rounds,
    quietAlone,
    quietBeside,
    noisy,
    p99Ratio: quietBeside.p99 / quietAlone.p99,
    noisy429Share: (noisy.statuses['429'] ?? 0) / noisyTotal,
  };
}

/** Phases' samples as one phase (API CPU averaged over them). */
function pooled(phases: readonly Phase[]): Phase {
  const statuses: Record<string, number> = {};
  for (const p of phases) for (const [code, n] of Object.entries(p.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const cpu = phases.map((p) => p.apiCpuMsPerS).filter((c): c is number => c !== undefined);
  return {
    ...summarise(phases.flatMap((p) => p.latencies)),
    statuses,
    ...(cpu.length > 0 ? { apiCpuMsPerS: Math.round(cpu.reduce((a, b) => a + b, 0) / cpu.length) } : {}),
  };
}

/** Sorted latencies with their count, p50 and p99. */
function summarise(latencies: number[]): Pick<Phase, 'requests' | 'p50' | 'p99' | 'latencies'> {
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10;
  return { requests: latencies.length, p50: at(0.5), p99: at(0.99), latencies };
}

interface NoisyLoad {
  readonly scimUrl: string;
  readonly token: string;
  readonly rate: number;
}

/** The noisy directory's lookups for `seconds`, each for a name nobody has. */
function noisyLoad(load: NoisyLoad, seconds: number): Promise<Phase> {
  return paced(load.scimUrl, load.token, load.rate, 20, seconds, (i) => ({
    method: 'GET',
    path: `/Users?filter=${encodeURIComponent(`userName eq "noisy-${i}@noisy.example"`)}`,
  }));
}

/**
 * This file, forked, as the noisy directory's client: it answers each `{seconds}` message with
 * the phase it ran, until stopped.
 */
function startNoisyProcess(load: NoisyLoad): Promise<{ run(seconds: number): Promise<Phase>; stop(): void }> {
  const child = fork(__filename, [JSON.stringify(load)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // The lowest CPU priority: the noisy directory is another customer's Entra, sending from
  // Microsoft's machines. On this 2-core machine its client at normal priority took the CPU
  // from the API and from PostgreSQL in turn (their garbage collections stretched), which
  // measures the load generator, not the platform's isolation.
  if (child.pid !== undefined) os.setPriority(child.pid, 19);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', () =>
      resolve({
        run: (seconds) =>
          new Promise<Phase>((done) => {
            child.once('message', (phase) => done(phase as Phase));
            child.send({ seconds });
          }),
        stop: () => child.kill(),
      }),
    );
  });
}

if (require.main === module) {
  const load = JSON.parse(process.argv[2]) as NoisyLoad;
  process.on('message', (m: { seconds: number }) => {
    void noisyLoad(load, m.seconds).then((phase) => process.send!(phase));
  });
  process.send!('ready');
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
          headers: {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/scim+json',
            ...(r.body ? { 'Content-Length': Buffer.byteLength(r.body) } : {}),
          },
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
  return { ...summarise(latencies), statuses };
}

/** The figures as a markdown table for BENCHMARKS.md. */
export function noisyNeighbourTable(f: NoisyNeighbourFigures, o: Pick<NoisyNeighbourOptions, 'quietRate' | 'noisyRate' | 'noisyLimit'>): string {
  const row = (name: string, p: Phase) =>
    `| ${name} | ${p.requests} | ${p.p50} | ${p.p99} | ${Object.entries(p.statuses)
      .map(([c, n]) => `${c}: ${n}`)
      .join(', ')} | ${p.apiCpuMsPerS ?? '–'} |`;
  return [
    `| noisy neighbour (quiet ${o.quietRate}/s; noisy offers ${o.noisyRate}/s, limit ${o.noisyLimit}/s) | requests | p50 ms | p99 ms | statuses | API CPU ms/s |`,
    '|---|---:|---:|---:|---|---:|',
    ...f.rounds.flatMap((r, i) => [row(`round ${i + 1}: quiet alone`, r.alone), row(`round ${i + 1}: quiet beside the noisy directory`, r.beside)]),
    row('quiet alone, rounds pooled', f.quietAlone),
    row('quiet beside, rounds pooled', f.quietBeside),
    row('noisy directory, rounds pooled', f.noisy),
    '',
    `quiet p99 beside / alone (pooled): ${f.p99Ratio.toFixed(2)} (target ≤ 1.20); noisy directory answered 429: ${(f.noisy429Share * 100).toFixed(1)} %`,
  ].join('\n');
}
