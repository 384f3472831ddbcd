import { readFileSync, readdirSync } from 'node:fs';

// Readers of /proc (Linux only): CPU time, resident memory and the machine's load.

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) is 100 on every Linux build Node runs on

/** utime + stime of one process in seconds, or undefined once it has gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // fields 14 and 15 of proc(5)
  } catch {
    return undefined;
  }
}

function statusField(pid: number, name: string): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : undefined; // kB -> MiB
  } catch {
    return undefined;
  }
}

/** Resident set size now, in MiB. */
export const rssMiB = (pid: number) => statusField(pid, 'VmRSS');
/** Peak resident set size since the process started, in MiB. */
export const peakRssMiB = (pid: number) => statusField(pid, 'VmHWM');

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/**
 * PostgreSQL processes that work for this benchmark: the backends connected to its database
 * (their title is "postgres: <user> <db> ...") and the server-wide helpers (WAL writer,
 * checkpointer, ...), whose work is shared with anything else using the same server.
 */
export function postgresPids(database: string): { backends: number[]; helpers: number[] } {
  const backends: number[] = [];
  const helpers: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'postgres' && !comm.startsWith('postgres:')) continue;
    const title = cmdline(pid);
    if (title.split(/\s+/).includes(database)) backends.push(pid);
    else if (
      /walwriter|checkpointer|background writer|wal writer|autovacuum|logical replication|stats/.test(title) ||
      /\/postgres\s/.test(title + ' ')
    )
      helpers.push(pid);
  }
  return { backends, helpers };
}

/** CPU seconds of a group of processes whose members may come and go (postgres backends). */
export class CpuGroup {
  private readonly last = new Map<number, number>();
  private total = 0;
  private primed = false;

  constructor(private readonly list: () => number[]) {
    this.sample();
  }

  /** Folds in what each process has used since the previous sample; returns the running total. */
  sample(): number {
    for (const pid of this.list()) {
      const now = cpuSeconds(pid);
      if (now === undefined) continue;
      const before = this.last.get(pid);
      // A process first seen now started after the previous sample (or is the first sample).
      if (before !== undefined) this.total += now - before;
      else if (this.primed) this.total += now;
      this.last.set(pid, now);
    }
    this.primed = true;
    return this.total;
  }
}
