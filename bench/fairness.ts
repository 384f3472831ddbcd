import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { DEV_SERVER_TUNING } from '../src/dev/temporal-dev-server';
import { REPO_ROOT } from '../test/support/paths';
import { closedLoop, percentile, type Accepted } from './load';
import { cleanupAll, DEFAULT_SETTINGS, HERALD_ROOT, startStack, type Stack } from './stack';

// `npm run bench:fairness`: does one tenant's flood hold back another tenant's mail? Tenant A
// submits a flood at once (5,000 by default); tenant B then submits 50. B's accept-to-sent
// latency (the sink's receipt of each message) is measured twice, on two fresh stacks: with the
// Temporal dev server's fairness on (Herald starts every delivery with fairnessKey = tenant)
// and with it off (the same flags without matching.enableFairness / useNewMatcher: FIFO).

const FLOOD = Number(process.env.FAIRNESS_FLOOD ?? 5000);
const SMALL = Number(process.env.FAIRNESS_SMALL ?? 50);
const log = (m: string) => console.error(m);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WITHOUT_FAIRNESS = DEV_SERVER_TUNING.filter(
  (flag, i, all) =>
    !/matching\.(enableFairness|useNewMatcher)/.test(flag) && !/matching\.(enableFairness|useNewMatcher)/.test(all[i + 1] ?? ''),
);

/** A tenant of the bench's own with a key, through the operator's CLI. */
function tenantKey(stack: Stack, id: string): string {
  const herald = (...args: string[]) =>
    execFileSync(process.execPath, [path.join(HERALD_ROOT, 'dist/bin/herald.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: stack.databaseUrl },
      encoding: 'utf8',
    });
  herald(
    'tenant',
    'create',
    id,
    '--name',
    `fairness ${id}`,
    '--domain',
    'herald.test',
    '--rate-per-second',
    '100000',
    '--burst',
    '100000',
    '--daily-quota',
    '10000000',
  );
  return herald('key', 'create', '--tenant', id, '--scopes', 'send,read').trim().split('\n').at(-1)!;
}

async function run(label: string, tuning: readonly string[]) {
  const stack = await startStack({ ...DEFAULT_SETTINGS, temporalTuning: tuning }, log);
  try {
    const flood = { url: stack.apiUrl, key: tenantKey(stack, 'flood') };
    const small = { url: stack.apiUrl, key: tenantKey(stack, 'small') };
    log(`${label}: tenant A submits ${FLOOD} at once`);
    const a = await closedLoop(flood, FLOOD, 32);
    const bStarted = Date.now();
    log(`${label}: tenant B submits ${SMALL}`);
    const b = await closedLoop(small, SMALL, 4);
    const received = new Map<string, number>();
    const arrivedAt = (acc: Accepted) => received.get(`${acc.id}@bench.herald`);
    const deadline = Date.now() + 30 * 60_000;
    while (Date.now() < deadline) {
      for (const r of stack.sink.collect()) if (!received.has(r.messageId)) received.set(r.messageId, r.at);
      if ([...a.accepted, ...b.accepted].every((x) => arrivedAt(x) !== undefined)) break;
      await sleep(500);
    }
    const latencies = (accepted: Accepted[]) => accepted.map((x) => (arrivedAt(x) ?? NaN) - x.at).filter(Number.isFinite);
    const bLat = latencies(b.accepted);
    const aBacklogAtB = a.accepted.filter((x) => (arrivedAt(x) ?? Infinity) > bStarted).length;
    const result = {
      label,
      floodAccepted: a.accepted.length,
      smallAccepted: b.accepted.length,
      floodBacklogWhenBSubmitted: aBacklogAtB,
      smallP50s: percentile(bLat, 50) / 1000,
      smallP99s: percentile(bLat, 99) / 1000,
      smallMaxS: Math.max(...bLat) / 1000,
      floodP50s: percentile(latencies(a.accepted), 50) / 1000,
      floodLastS: (Math.max(...a.accepted.map((x) => arrivedAt(x) ?? 0)) - a.startedAt) / 1000,
      lost: [...a.accepted, ...b.accepted].filter((x) => arrivedAt(x) === undefined).length,
    };
    log(JSON.stringify(result));
    return result;
  } finally {
    await cleanupAll();
  }
}

async function main() {
  const fair = await run('fairness on', DEV_SERVER_TUNING);
  const fifo = await run('fairness off', WITHOUT_FAIRNESS);
  const row = (r: typeof fair) =>
    `| ${r.label} | ${r.floodAccepted} | ${r.floodBacklogWhenBSubmitted} | ${r.smallP50s.toFixed(1)} | ${r.smallP99s.toFixed(1)} | ${r.smallMaxS.toFixed(1)} | ${r.floodLastS.toFixed(0)} | ${r.lost} |`;
  console.log(
    [
      `| dev server | A accepted | A not yet sent when B submitted | B p50 accept-to-sent (s) | B p99 (s) | B max (s) | A's last sent after (s) | lost |`,
      '|---|---|---|---|---|---|---|---|',
      row(fair),
      row(fifo),
    ].join('\n'),
  );
  console.log(JSON.stringify({ fairness: fair, fifo }));
}

main().catch(async (err) => {
  console.error(err);
  await cleanupAll();
  process.exit(1);
});
