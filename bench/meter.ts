import { readFileSync } from 'node:fs';
import { CpuGroup, cpuSeconds, loadAverage, postgresPids } from './procfs';

// CPU seconds of each process of the stack over one phase, the machine's total busy time and
// what others (processes not ours) used meanwhile: the benchmark shares 2 cores with whatever
// else runs.

export interface Processes {
  api?: number;
  /** Several workers (--workers N): their CPU is summed. */
  worker?: number | number[];
  temporal?: number;
  sink?: number;
  b1worker?: number;
  database: string;
  /**
   * The real Temporal server's persistence and visibility databases: the PostgreSQL backends
   * connected to them are `temporal_pg` (the dev server's SQLite work is inside its own process).
   */
  temporalDatabases?: readonly string[];
}

export interface PhaseCpu {
  wallS: number;
  /**
   * CPU seconds per process name (runner = this process: load generator, B0 sender, B1 client;
   * worker = all the workers; temporal_pg = the real server's PostgreSQL backends).
   */
  cpu: Record<string, number>;
  /** Busy CPU seconds of the whole machine, and the part that none of the above used. */
  machineBusyS: number;
  othersS: number;
  loadBefore: string;
  loadAfter: string;
}

function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (USER_HZ = 100)
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / 100;
}

export class Meter {
  private readonly start = Date.now();
  private readonly loadBefore = loadAverage();
  private readonly busy0 = machineBusySeconds();
  private readonly single = new Map<string, Array<{ pid: number; cpu0: number }>>();
  private readonly runner0 = process.cpuUsage();
  private readonly pg: CpuGroup;
  private readonly temporalPg?: CpuGroup;

  constructor(procs: Processes) {
    for (const [name, value] of Object.entries(procs)) {
      if (name === 'database' || name === 'temporalDatabases') continue;
      const pids = (Array.isArray(value) ? value : [value]).filter((pid): pid is number => typeof pid === 'number');
      const measured = pids
        .map((pid) => ({ pid, cpu0: cpuSeconds(pid) }))
        .filter((p): p is { pid: number; cpu0: number } => p.cpu0 !== undefined);
      if (measured.length > 0) this.single.set(name, measured);
    }
    this.pg = new CpuGroup(() => {
      const { backends, helpers } = postgresPids(procs.database);
      return [...backends, ...helpers];
    });
    const temporalDatabases = procs.temporalDatabases;
    if (temporalDatabases?.length) this.temporalPg = new CpuGroup(() => temporalDatabases.flatMap((db) => postgresPids(db).backends));
  }

  /** Folds in postgres backends that may end before the phase does; call now and then. */
  sample(): void {
    this.pg.sample();
    this.temporalPg?.sample();
  }

  stop(): PhaseCpu {
    const cpu: Record<string, number> = {};
    for (const [name, list] of this.single) cpu[name] = list.reduce((sum, { pid, cpu0 }) => sum + (cpuSeconds(pid) ?? cpu0) - cpu0, 0);
    cpu.postgres = this.pg.sample();
    if (this.temporalPg) cpu.temporal_pg = this.temporalPg.sample();
    const r = process.cpuUsage(this.runner0);
    cpu.runner = (r.user + r.system) / 1e6;
    const machineBusyS = machineBusySeconds() - this.busy0;
    const ours = Object.values(cpu).reduce((a, b) => a + b, 0);
    return {
      wallS: (Date.now() - this.start) / 1000,
      cpu,
      machineBusyS,
      othersS: Math.max(0, machineBusyS - ours),
      loadBefore: this.loadBefore,
      loadAfter: loadAverage(),
    };
  }
}
