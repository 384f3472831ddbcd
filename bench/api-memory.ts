import { createSql } from '../src/db/sql';
import { createTenantAdmin } from '../src/tenants/admin';
import { KEY_SCOPES } from '../src/shared';
import { cleanupAll, DEFAULT_SETTINGS, startStack } from './stack';
import { peakRssMiB, rssMiB } from './procfs';

// `npm run bench:memory`: the API's memory for the largest emails it accepts. The real
// entry point (node dist/bin/api.js, its own process) receives one email of 10 MiB (decoded,
// as one attachment: a 14 MB JSON body), then 20 of them at once; its resident memory is
// sampled from /proc/<pid>/status every 5 ms, and VmHWM (the kernel's peak) read after each
// phase. Prints the figures BENCHMARKS.md and the README quote.

const MiB = 1024 * 1024;
const CONCURRENT = Number(process.env.HERALD_MEMORY_CONCURRENT ?? 20);
/**
 * The documented bound (README, BENCHMARKS.md): the API's peak resident memory with 20 emails
 * of 10 MiB at once, with the default MAX_CONCURRENT_LARGE_REQUESTS=4. The run fails above it.
 */
const BOUND_MIB = 640;

function body(bytes: number): string {
  return JSON.stringify({
    from: 'bench@memory.bench',
    to: ['sink@memory.bench'],
    subject: 'ten mebibytes',
    text: 'see the attachment',
    attachments: [
      {
        filename: 'big.bin',
        contentType: 'application/octet-stream',
        content: Buffer.alloc(bytes - 'see the attachment'.length, 1).toString('base64'),
      },
    ],
  });
}

/** Samples the API's resident memory while `work` runs; returns the highest sample (MiB). */
async function peakDuring(pid: number, work: () => Promise<void>): Promise<number> {
  let peak = rssMiB(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid) ?? 0);
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rssMiB(pid) ?? 0);
}

async function main() {
  const log = (m: string) => console.error(m);
  const stack = await startStack(DEFAULT_SETTINGS, log);
  const sql = createSql(stack.databaseUrl, 1);
  const admin = createTenantAdmin(sql);
  await admin.createTenant('memory-bench', { name: 'memory bench', sendingDomains: ['memory.bench'], ratePerSecond: 1000, burst: 1000 });
  const { key } = await admin.createKey('memory-bench', [...KEY_SCOPES], 'memory bench');
  await sql.end({ timeout: 5 });

  const send = async (text: string) => {
    const res = await fetch(`${stack.apiUrl}/v1/emails`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: text,
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`expected 202, got ${res.status}`);
  };

  // Warm-up: the first requests load code and fill pools.
  for (let i = 0; i < 20; i++) await send(body(1024));
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssMiB(stack.apiPid)!;
  const big = body(10 * MiB);
  log(`bench: request body ${(big.length / MiB).toFixed(1)} MiB of JSON for 10 MiB decoded`);

  const one = await peakDuring(stack.apiPid, () => send(big));
  const hwmOne = peakRssMiB(stack.apiPid)!;
  await new Promise((r) => setTimeout(r, 2000));
  const afterOne = rssMiB(stack.apiPid)!;
  const started = Date.now();
  const many = await peakDuring(stack.apiPid, async () => {
    await Promise.all(Array.from({ length: CONCURRENT }, () => send(big)));
  });
  const seconds = (Date.now() - started) / 1000;
  const hwmMany = peakRssMiB(stack.apiPid)!;

  const figures = {
    idleRssMiB: Math.round(idle),
    oneEmail: { peakRssMiB: Math.round(Math.max(one, hwmOne)), aboveIdleMiB: Math.round(Math.max(one, hwmOne) - idle) },
    [`${CONCURRENT}AtOnce`]: {
      peakRssMiB: Math.round(Math.max(many, hwmMany)),
      aboveIdleMiB: Math.round(Math.max(many, hwmMany) - idle),
      seconds: Number(seconds.toFixed(1)),
    },
    rssAfterOneMiB: Math.round(afterOne),
  };
  const peak = Math.max(many, hwmMany, one, hwmOne);
  console.log(JSON.stringify({ ...figures, boundMiB: BOUND_MIB, withinBound: peak <= BOUND_MIB }, null, 2));
  await cleanupAll();
  if (peak > BOUND_MIB) {
    console.error(`bench: the API peaked at ${Math.round(peak)} MiB, over the documented bound of ${BOUND_MIB} MiB`);
    process.exitCode = 1;
  }
}

main().catch(async (err) => {
  console.error(err);
  await cleanupAll();
  process.exit(1);
});
