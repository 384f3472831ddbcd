import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScenarioReport } from './accounting';
import { REPO_ROOT } from '../../support/paths';
import { runDir } from './stack';

// The table printed at the end of a run, also written to .herald/faults/last-run.{md,json}.

export function summaryTable(reports: ScenarioReport[]): string {
  const header = [
    'Scenario',
    'Peer',
    'Accepted',
    'Sent',
    'Failed',
    'Not terminal',
    'Lost',
    'Copies',
    'Dup. emails',
    'Extra copies',
    'Uncertain emails',
    'Activity timeouts',
    'Attempts',
    'Recover (s)',
    'Wall (s)',
  ];
  const rows = reports.map((r) => [
    r.slug,
    r.peer,
    `${r.accepted}/${r.submitted}`,
    r.sent,
    r.failed,
    r.notTerminal,
    r.lost,
    r.copies,
    r.duplicatedEmails,
    r.extraCopies,
    r.uncertainEmails,
    r.activityTimeouts,
    r.attempts,
    r.recoverSeconds.toFixed(1),
    r.wallSeconds.toFixed(1),
  ]);
  const total = (f: (r: ScenarioReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  rows.push([
    'TOTAL',
    '',
    `${total((r) => r.accepted)}/${total((r) => r.submitted)}`,
    total((r) => r.sent),
    total((r) => r.failed),
    total((r) => r.notTerminal),
    total((r) => r.lost),
    total((r) => r.copies),
    total((r) => r.duplicatedEmails),
    total((r) => r.extraCopies),
    total((r) => r.uncertainEmails),
    total((r) => r.activityTimeouts),
    total((r) => r.attempts),
    Math.max(0, ...reports.map((r) => r.recoverSeconds)).toFixed(1) + ' max',
    total((r) => r.wallSeconds).toFixed(0),
  ]);
  const lines = [header, ...rows].map((cells) => `| ${cells.map(String).join(' | ')} |`);
  lines.splice(1, 0, `|${header.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

export function printSummary(): void {
  let dir: string;
  try {
    dir = runDir();
  } catch {
    return;
  }
  const reports = readdirSync(dir)
    .filter((f) => /^result-.*\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ScenarioReport)
    .sort((a, b) => a.slug.localeCompare(b.slug));
  if (reports.length === 0) return;
  const started = Number(process.env.HERALD_FAULTS_STARTED_AT ?? Date.now());
  const wall = ((Date.now() - started) / 1000).toFixed(0);
  const table = summaryTable(reports);
  const faults = reports.map((r) => `- ${r.slug}: ${r.fault}`).join('\n');
  const text = `Fault suite, ${new Date().toISOString()}, ${reports.length} scenario(s), wall time ${wall} s (logs in ${dir})\n\n${table}\n\nFaults:\n${faults}\n`;
  console.log(`\n${text}`);
  const out = path.join(REPO_ROOT, '.herald', 'faults');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'last-run.md'), text);
  writeFileSync(
    path.join(out, 'last-run.json'),
    JSON.stringify(
      reports.map(({ emails: _e, ...r }) => r),
      null,
      2,
    ),
  );
}
