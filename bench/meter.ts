import { readFileSync } from 'node:fs';
import { CpuGroup, cpuSeconds, loadAverage, postgresPids } from './procfs';

// CPU seconds of each process of the stack over one phase, the machine's total busy time and
// what others (processes not ours) used meanwhile: the benchmark shares 2 cores with whatever
// else runs.

export interface Processes {
  api?: number;
  worker?: number;
  temporal?: number;
  sink?: number;
  b1worker?: number;
  database: string;
}

export interface PhaseCpu {
  wallS: number;
  /** CPU seconds per process name (runner = this process: load generator, B0 sender, B1 client). */
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
  private readonly single = new Map<string, { pid: number; cpu0: number }>();
  private readonly runner0 = process.cpuUsage();
  private readonly pg: CpuGroup;

  constructor(procs: Processes) {
    for (const [name, pid] of Object.entries(procs)) {
      if (name === 'database' || typeof pid !== 'number') continue;
      const cpu0 = cpuSeconds(pid);
      if (cpu0 !== undefined) this.single.set(name, { pid, cpu0 });
    }
    this.pg = new CpuGroup(() => {
      const { backends, helpers } = postgresPids(procs.database);
      return [...backends, ...helpers];
    });
  }

  /** Folds in postgres backends that may end before the phase does; call now and then. */
  sample(): void {
    this.pg.sample();
  }

  stop(): PhaseCpu {
    const cpu: Record<string, number> = {};
    for (const [name, { pid, cpu0 }] of this.single) cpu[name] = (cpuSeconds(pid) ?? cpu0) - cpu0;
    cpu.postgres = this.pg.sample();
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
