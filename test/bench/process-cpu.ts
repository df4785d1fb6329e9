import { readdirSync, readFileSync } from 'node:fs';

/** User + system CPU of a process so far, in ms (Linux /proc; clock ticks are 10 ms); NaN once it has ended. */
function cpuMs(pid: number): number {
  try {
    // The command name may hold spaces; the fields after it are fixed.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Pids of the processes whose parent is `pid` (the API processes of a cluster primary). */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Pids of the processes whose command name is `name` (all of PostgreSQL's backends, say). */
function pidsNamed(name: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * CPU spent by the API process and by PostgreSQL while a scenario runs: with both on the same
 * two cores, CPU per request says where a change helped when req/s alone drifts with the machine.
 * A backend that exits during the window takes its time with it, so PostgreSQL's figure is a floor.
 */
export function cpuMeter(apiPid: number) {
  const pg = pidsNamed('postgres');
  // With WEB_CONCURRENCY > 1 the API is a primary and its processes: all of them count.
  const apiPids = [apiPid, ...childPids(apiPid)];
  const apiCpu = () =>
    apiPids
      .map(cpuMs)
      .filter(Number.isFinite)
      .reduce((sum, ms) => sum + ms, 0);
  const api0 = apiCpu();
  const pg0 = new Map(pg.map((p) => [p, cpuMs(p)]));
  return () => {
    // A backend that ended meanwhile reads NaN and is left out (its time with it).
    const deltas = pidsNamed('postgres').map((p) => cpuMs(p) - (pg0.get(p) ?? 0));
    const pgMs = deltas.filter(Number.isFinite).reduce((sum, d) => sum + d, 0);
    return { apiMs: apiCpu() - api0, pgMs };
  };
}

/**
 * CPU the whole machine spent (every process and the kernel: user, nice, system, irq, softirq and
 * steal from /proc/stat), in ms since the meter started: what a step cost all in, Redis, the
 * webhook receiver and the load generators included.
 */
export function machineMeter() {
  const busyMs = () => {
    const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    return (user + nice + system + irq + softirq + steal) * 10;
  };
  const start = busyMs();
  return () => busyMs() - start;
}
