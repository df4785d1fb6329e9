import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in MiB: VmHWM is the peak resident set, VmRSS the current one. */
const statusMiB = (pid: number, field: 'VmHWM' | 'VmRSS') =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export const peakRssMiB = (pid: number) => statusMiB(pid, 'VmHWM');
export const rssMiB = (pid: number) => statusMiB(pid, 'VmRSS');

/** Samples a process's resident set every 250 ms until the returned stop is called: min and max in MiB. */
export function rssSampler(pid: number) {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rssMiB(pid)), 250);
  return () => {
    clearInterval(timer);
    return { minMiB: Math.min(...samples), maxMiB: Math.max(...samples), samples: samples.length };
  };
}
