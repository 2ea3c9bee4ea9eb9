/**
 * CPU readings from /proc for processes that cannot report their own (redis-server) and for the
 * whole machine (to tell a saturated box from a slow server).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | null = null;

function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU time of a process since it started, µs, read from outside the process — so it is exact at
 * the moment of the reading even while the process's event loop is blocked (a server stuck in a
 * long turn cannot answer an IPC sample on time). Sums the scheduler's nanosecond run time of
 * every thread (`/proc/PID/task/TID/schedstat`), falling back to the 10 ms ticks of
 * `/proc/PID/stat`. NaN if unreadable.
 */
export function processCpuUs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between readdir and read
      }
    }
    if (ns > 0) return ns / 1000;
  } catch {
    // no schedstat (kernel without CONFIG_SCHEDSTATS): ticks below
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime field 14, stime field 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / ticksPerSecond()) * 1e6;
  } catch {
    return Number.NaN;
  }
}

/**
 * Every descendant of a process (children, their children, …), read from `/proc/PID/stat` of
 * every process: `taskpulse-hub --workers N` is a primary and N forked workers.
 */
export function descendantPids(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // after "(comm)": state is field 3, ppid field 4
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended between readdir and read
    }
  }
  const out: number[] = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Resident set size of a process, bytes, or NaN. */
export function processRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Cumulative busy and total CPU time of the whole machine (all cores), in ticks. */
export interface BoxCpu {
  busy: number;
  /** time spent in hardware and software interrupts (loopback TCP is mostly softirq), part of busy */
  irq: number;
  total: number;
}

/** Reads the machine's aggregate CPU counters from /proc/stat. */
export function boxCpu(): BoxCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, irq: (v[5] ?? 0) + (v[6] ?? 0), total };
}

/** Fraction of the whole machine spent in interrupts between two readings (0–1). */
export function boxIrq(a: BoxCpu, b: BoxCpu): number {
  const total = b.total - a.total;
  return total > 0 ? (b.irq - a.irq) / total : Number.NaN;
}

/** Fraction of the whole machine that was busy between two readings (0–1). */
export function boxBusy(a: BoxCpu, b: BoxCpu): number {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : Number.NaN;
}
