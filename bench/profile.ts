import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// `--profile`: where the time goes. api and worker run with --cpu-prof (one .cpuprofile per
// thread, written when they exit); the Temporal server, a Go binary, is sampled with `perf`
// when it is installed. Summaries group self time by package (node_modules/<name>, node
// internals, Herald's own code, GC) and list the hottest functions.

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function groupOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node internals';
  if (/workflow-bundle|webpack/.test(url)) return 'workflow bundle (vm)';
  if (url.includes('/dist/')) return 'herald (dist/)';
  return url.split('/').slice(-2).join('/');
}

export function summarizeCpuProfile(file: string, top = 12): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalUs = prof.endTime - prof.startTime;
  // Self time per node: sum of the time deltas of the samples that landed in it.
  const self = new Map<number, number>();
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (deltas[i] ?? 0));
  const byGroup = new Map<string, number>();
  const byFn = new Map<string, number>();
  let busy = 0;
  for (const node of prof.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const g = groupOf(url, functionName);
    byGroup.set(g, (byGroup.get(g) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${path.basename(file)}: busy ${(busy / 1e6).toFixed(1)} s of ${(totalUs / 1e6).toFixed(1)} s`];
  lines.push('  by package (self time):');
  for (const [g, us] of [...byGroup].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${g}`);
  lines.push('  hottest functions (self time):');
  for (const [f, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(us)}  ${f}`);
  return lines.join('\n');
}

export function summarizeCpuProfiles(dir: string): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return `no CPU profiles in ${dir}`;
  }
  return files.map((f) => summarizeCpuProfile(path.join(dir, f))).join('\n\n');
}

function goBucket(sym: string, kernel: boolean): string {
  if (kernel) return 'kernel (syscalls, scheduling, I/O)';
  if (/^modernc\.org\/(sqlite|libc)/.test(sym)) return 'SQLite (modernc.org/sqlite, pure Go)';
  if (/^(runtime\.|aeshash|memeqbody|internal\/runtime|gcWriteBarrier|indexbytebody|cmpbody)/.test(sym))
    return 'Go runtime (GC, scheduler, maps, alloc)';
  if (/protobuf|gogo\/protobuf|\.Marshal|\.Unmarshal|\.Size/.test(sym)) return 'protobuf';
  if (/grpc|golang\.org\/x\/net\/http2/.test(sym)) return 'gRPC / HTTP2';
  if (/go\.temporal\.io\/server\/common\/persistence/.test(sym)) return 'temporal persistence layer';
  if (/go\.temporal\.io\/server\/service\/history/.test(sym)) return 'temporal history service';
  if (/go\.temporal\.io\/server\/service\/matching/.test(sym)) return 'temporal matching service';
  if (/go\.temporal\.io\/server\/service\/frontend/.test(sym)) return 'temporal frontend service';
  if (/go\.temporal\.io|temporalio/.test(sym)) return 'temporal (other)';
  if (
    /^(encoding\/json|reflect\.|strconv|fmt\.|sort\.|strings\.|bytes\.|sync\.|time\.|context\.|syscall\.|internal\/poll|os\.|crypto|hash|compress|regexp|math|unicode|bufio|io\.|net\.)/.test(
      sym,
    )
  )
    return 'Go standard library';
  if (/go\.uber\.org\/zap|log/.test(sym)) return 'logging';
  return 'other';
}

/** Samples a process with `perf record` (call graphs) until stopped; undefined when perf is missing. */
export function startPerf(pid: number, outFile: string): { stop(): Promise<string> } | undefined {
  if (spawnSync('perf', ['--version']).status !== 0) return undefined;
  const child: ChildProcess = spawn('perf', ['record', '-F', '499', '-p', String(pid), '-o', outFile], { stdio: 'ignore' });
  return {
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      return summarizePerf(outFile);
    },
  };
}

export function summarizePerf(file: string): string {
  const report = spawnSync(
    'perf',
    ['report', '-i', file, '--no-children', '--sort', 'symbol', '--stdio', '-g', 'none', '--percent-limit', '0'],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const buckets = new Map<string, number>();
  const top: string[] = [];
  for (const line of (report.stdout ?? '').split('\n')) {
    const m = /^\s*([\d.]+)%\s+\[([.k])\]\s+(\S+)/.exec(line);
    if (!m) continue;
    const pctv = Number(m[1]);
    const b = goBucket(m[3], m[2] === 'k');
    buckets.set(b, (buckets.get(b) ?? 0) + pctv);
    if (top.length < 12) top.push(`    ${m[1].padStart(5)}%  ${m[3]}`);
  }
  const lines = ['temporal server (perf, self time):', '  by part:'];
  for (const [b, v] of [...buckets].sort((a, c) => c[1] - a[1])) lines.push(`    ${v.toFixed(1).padStart(5)}%  ${b}`);
  lines.push('  hottest symbols:', ...top);
  return lines.join('\n');
}
