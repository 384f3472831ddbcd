import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, parseConfig } from '../../src/config';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../../src/shared';
import { REPO_ROOT } from '../support/paths';

// No Docker engine runs here: docker-compose.yml is checked statically against the code.

const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
const services = compose.services as Record<string, any>;

test('it has the whole stack', () => {
  expect(Object.keys(services).sort()).toEqual(['api', 'mailpit', 'migrate', 'postgres', 'temporal', 'worker']);
});

test.each(['api', 'worker', 'migrate'])('%s runs an entry point that exists, with a configuration Herald accepts', (name) => {
  const service = services[name];
  const entry = service.command.find((part: string) => part.startsWith('dist/bin/'));
  expect(entry).toBeDefined();
  expect(readFileSync(path.join(REPO_ROOT, entry.replace(/^dist/, 'src').replace(/\.js$/, '.ts')), 'utf8')).toContain('parseConfig');
  const env = service.environment as Record<string, string>;
  for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
  expect(() => parseConfig(env)).not.toThrow();
  expect(service.build).toBe('.');
});

test('api and worker wait for migrations; the worker has an SMTP gateway', () => {
  for (const name of ['api', 'worker']) {
    expect(services[name].depends_on.migrate.condition).toBe('service_completed_successfully');
  }
  expect(services.worker.environment.SMTP_URL).toMatch(/^smtp:\/\/mailpit:/);
  expect(services.api.ports).toContain(`${services.api.environment.PORT}:3000`);
});

test('the Temporal dev server registers every search attribute the workflow upserts', () => {
  const flags = services.temporal.command.filter((c: string) => c.startsWith('--search-attribute='));
  const registered = Object.fromEntries(flags.map((f: string) => f.replace('--search-attribute=', '').split('=')));
  expect(registered).toEqual(SEARCH_ATTRIBUTE_CLI_TYPES);
  expect(services.temporal.command).toContain('--db-filename=/data/temporal.sqlite');
});

test('the Dockerfile builds what the services run', () => {
  const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/npm ci/);
  expect(dockerfile).toMatch(/npm run build/);
  expect(dockerfile).toMatch(/COPY migrations/);
});
