import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// Workflow code runs in Temporal's deterministic sandbox: it may import only
// @temporalio/workflow, src/shared and its own folder; activities and the rest only as types.

const dir = path.resolve(__dirname, '../../src/workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
const IMPORT = /^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms;

test.each(files)('%s imports only what a workflow may', (file) => {
  const source = readFileSync(path.join(dir, file), 'utf8');
  const imports = [...source.matchAll(IMPORT)].map(([, typeOnly, from]) => ({ typeOnly: Boolean(typeOnly), from }));
  expect(imports.length).toBeGreaterThan(0);
  for (const { typeOnly, from } of imports) {
    if (typeOnly) continue;
    expect(['@temporalio/workflow', '../shared'].includes(from) || from.startsWith('./')).toBe(true);
  }
});

test('the guard itself catches a value import of an activity module', () => {
  const bad = "import { createActivities } from '../activities';";
  const [, typeOnly, from] = [...bad.matchAll(IMPORT)][0];
  expect(typeOnly).toBeUndefined();
  expect(from).toBe('../activities');
});
