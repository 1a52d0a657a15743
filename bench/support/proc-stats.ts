import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux almost always). */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU time (user + system, all threads) a process has used so far, in µs, from /proc/PID/stat.
 * Read before and after a measured window: the difference is what the server spent on it,
 * whatever else the machine runs (wall-clock rates on a shared machine are not robust; this is).
 */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5), i.e. 11 and 12 after the state field.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / TICKS_PER_SECOND;
}

/** Resident set size of a process, in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}

/** One window of CPU time of a process: `stop()` returns the µs it used since `start`. */
export function cpuWindow(pid: number): { stop(): number } {
  const started = cpuMicros(pid);
  return { stop: () => cpuMicros(pid) - started };
}

/**
 * How a process's main thread spent its time so far, in µs (/proc/PID/task/PID/schedstat): on a
 * CPU, and runnable but waiting for one. Over a measured window, wall time minus both is the
 * time it had nothing to do (waiting for the network, the database, the broker): this tells a
 * rate bound by CPU contention on a shared machine from one bound by a round trip.
 */
export function mainThreadSchedMicros(pid: number): { onCpu: number; waitingForCpu: number } {
  const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { onCpu: (onCpu ?? 0) / 1_000, waitingForCpu: (waiting ?? 0) / 1_000 };
}
