import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, parseConfig } from '../../src/config';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../../src/shared';

// No Docker engine runs here: docker-compose.yml is checked statically, against the compose
// specification's shape (as far as this file uses it) and against the code.

const root = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true });
const services = compose.services as Record<string, any>;
const herald = ['migrate', 'worker', 'api'];

/** The variables of .env.example, which is what a user copies to .env. */
const envExample: Record<string, string> = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

/** Compose's interpolation as this file uses it: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$. */
function interpolate(value: string, env: Record<string, string> = envExample): string {
  return value.replace(/\$\$|\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (match, name, op, arg) => {
    if (match === '$$') return '$';
    const set = env[name];
    if (op === ':-') return set ? set : arg;
    if (op === ':?' && !set) throw new Error(`${name} is required: ${arg}`);
    return set ?? '';
  });
}

// The compose specification's top-level elements and the service attributes this project may use.
const TOP_LEVEL = ['version', 'name', 'include', 'services', 'networks', 'volumes', 'configs', 'secrets', 'models'];
const SERVICE_KEYS = [
  'build',
  'command',
  'configs',
  'container_name',
  'depends_on',
  'deploy',
  'entrypoint',
  'env_file',
  'environment',
  'expose',
  'healthcheck',
  'image',
  'labels',
  'logging',
  'networks',
  'ports',
  'profiles',
  'restart',
  'secrets',
  'stop_grace_period',
  'stop_signal',
  'ulimits',
  'user',
  'volumes',
  'working_dir',
];

describe('compose specification', () => {
  test("top-level elements are the specification's (or x- extensions)", () => {
    for (const key of Object.keys(compose)) expect(TOP_LEVEL.includes(key) || key.startsWith('x-')).toBe(true);
    expect(compose.name).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
  });

  test.each(Object.keys(services))('%s is a well-formed service', (name) => {
    const service = services[name];
    expect(Object.keys(service).filter((k) => !SERVICE_KEYS.includes(k))).toEqual([]);
    expect(Boolean(service.image) || Boolean(service.build)).toBe(true);
    for (const [dependency, { condition }] of Object.entries<any>(service.depends_on ?? {})) {
      expect(Object.keys(services)).toContain(dependency);
      expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
      if (condition === 'service_healthy') expect(services[dependency].healthcheck).toBeDefined();
    }
    if (service.healthcheck) expect(['CMD', 'CMD-SHELL', 'NONE']).toContain(service.healthcheck.test[0]);
    if (service.restart) expect(service.restart).toMatch(/^(no|always|unless-stopped|on-failure(:\d+)?)$/);
    for (const command of [service.command, service.entrypoint]) {
      if (command !== undefined) expect(typeof command === 'string' || command.every((p: unknown) => typeof p === 'string')).toBe(true);
    }
    for (const port of service.ports ?? []) expect(interpolate(port)).toMatch(/^(\d{1,3}(\.\d{1,3}){3}:)?\d+:\d+$/);
    for (const env of Object.values(service.environment ?? {})) expect(typeof env).toBe('string');
    for (const volume of service.volumes ?? []) {
      const [source, target] = volume.split(':');
      expect(target).toMatch(/^\//);
      if (source.startsWith('.')) expect(existsSync(path.join(root, source))).toBe(true);
      else expect(Object.keys(compose.volumes ?? {})).toContain(source);
    }
  });
});

test('every image is pinned to a version (no latest, no untagged)', () => {
  for (const service of Object.values(services)) {
    if (!service.image) continue;
    const [, tag] = interpolate(service.image).split(':');
    expect(tag).toMatch(/^v?\d+(\.\d+)+$/);
  }
  expect(services.temporal.image).toBe('temporalio/server:1.32.1');
  expect(services['temporal-schema'].image).toBe('temporalio/admin-tools:1.32.1');
  expect(services['temporal-namespace'].image).toBe(services['temporal-schema'].image);
});

test('secrets come from .env, with every variable it needs in .env.example', () => {
  const file = read('docker-compose.yml');
  const required = [...file.matchAll(/\$\{([A-Z_][A-Z0-9_]*):\?/g)].map(([, name]) => name);
  expect(required).toContain('POSTGRES_PASSWORD');
  for (const [, name] of file.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)) expect(Object.keys(envExample)).toContain(name);
  // No password is written in the file itself.
  for (const service of Object.values(services)) {
    for (const [key, value] of Object.entries<string>(service.environment ?? {})) {
      if (/PASSWORD|PWD/.test(key)) expect(value).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    }
  }
  expect(read('.gitignore')).toMatch(/^\.env$/m);
  expect(read('.dockerignore')).toMatch(/^\.env$/m);
});

test('the stack: PostgreSQL, schema job, Temporal server, namespace job, Web UI, Mailpit, Herald', () => {
  expect(Object.keys(services).sort()).toEqual(
    ['api', 'mailpit', 'migrate', 'postgres', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker'].sort(),
  );
  expect(services.temporal.depends_on['temporal-schema'].condition).toBe('service_completed_successfully');
  expect(services['temporal-namespace'].depends_on.temporal.condition).toBe('service_healthy');
  for (const name of ['api', 'worker']) {
    expect(services[name].depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(services[name].depends_on['temporal-namespace'].condition).toBe('service_completed_successfully');
  }
});

test("Temporal's frontend, its Web UI and Mailpit are published on 127.0.0.1 only; workers scale", () => {
  for (const name of ['temporal', 'temporal-ui', 'mailpit', 'api']) {
    for (const port of services[name].ports) expect(interpolate(port)).toMatch(/^127\.0\.0\.1:/);
  }
  for (const [name, service] of Object.entries(services)) {
    if (!['temporal', 'temporal-ui', 'mailpit', 'api'].includes(name)) expect(service.ports).toBeUndefined();
    expect(service.container_name).toBeUndefined();
  }
});

test('the Temporal server runs with deploy/temporal/dynamic-config.yaml', () => {
  const env = services.temporal.environment;
  const mount = services.temporal.volumes.find((v: string) => v.startsWith('./deploy/temporal/dynamic-config.yaml:'));
  expect(mount.split(':')[1]).toBe(env.DYNAMIC_CONFIG_FILE_PATH);
  const dynamicConfig = parse(read('deploy/temporal/dynamic-config.yaml'));
  expect(dynamicConfig['matching.enableFairness']).toEqual([{ value: true }]);
  expect(dynamicConfig['matching.useNewMatcher']).toEqual([{ value: true }]);
  expect(env).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres', DBNAME: 'temporal', VISIBILITY_DBNAME: 'temporal_visibility' });
});

test("the admin-tools jobs run scripts that exist; the namespace gets exactly Herald's search attributes", () => {
  for (const name of ['temporal-schema', 'temporal-namespace']) {
    const script = services[name].entrypoint[1];
    const mount = services[name].volumes.find((v: string) => v.endsWith(`:${script}:ro`));
    expect(existsSync(path.join(root, mount.split(':')[0]))).toBe(true);
  }
  const registered = Object.fromEntries(
    [...read('deploy/temporal/create-namespace.sh').matchAll(/\b(Herald\w+):(KeywordList|Keyword)\b/g)].map(([, n, t]) => [n, t]),
  );
  expect(registered).toEqual(SEARCH_ATTRIBUTE_CLI_TYPES);
});

test.each(herald)('%s runs an entry point that exists, with a configuration Herald accepts', (name) => {
  const service = services[name];
  const entry = service.command.find((part: string) => part.startsWith('dist/bin/'));
  expect(entry).toBeDefined();
  expect(read(entry.replace(/^dist/, 'src').replace(/\.js$/, '.ts'))).toContain('parseConfig');
  const env = Object.fromEntries(Object.entries<string>(service.environment).map(([k, v]) => [k, interpolate(v)]));
  for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
  const config = parseConfig(env);
  expect(config.databaseUrl).toMatch(/^postgres:\/\/herald:[^@]+@postgres:5432\/herald$/);
  expect(config.temporal.address).toBe('temporal:7233');
  expect(config.smtp.gateways).toEqual([{ name: 'default', url: 'smtp://mailpit:1025', priority: 0 }]);
  expect(service.build).toBe('.');
});

test('the Dockerfile builds what the services run', () => {
  const dockerfile = read('Dockerfile');
  expect(dockerfile).toMatch(/npm ci/);
  expect(dockerfile).toMatch(/npm run build/);
  expect(dockerfile).toMatch(/COPY migrations/);
});

test('the image puts the herald CLI on PATH, the package bin it is built from', () => {
  const pkg = JSON.parse(read('package.json'));
  expect(pkg.bin.herald).toBe('dist/bin/herald.js');
  expect(existsSync(path.join(root, 'src/bin/herald.ts'))).toBe(true);
  expect(read('Dockerfile')).toMatch(/ln -s \/app\/dist\/bin\/herald\.js \/usr\/local\/bin\/herald/);
});

test('the API listens on every interface inside its container only', () => {
  expect(services.api.environment.HOST).toBe('0.0.0.0');
  expect(parseConfig({}).http.host).toBe('127.0.0.1');
  for (const port of services.api.ports) expect(interpolate(port)).toMatch(/^127\.0\.0\.1:/);
});
