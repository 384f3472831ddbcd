import { existsSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared';
import { resolveTemporalCli, temporalCliCacheDir } from '../../src/dev/temporal-cli';

// The Temporal server of the workflow tests.
//
// DESIGN.md asks for TestWorkflowEnvironment.createTimeSkipping(). Its server is Temporal's Java
// test server (temporal-test-server, a GraalVM native image released with sdk-java), which the
// SDK downloads from temporal.download on first use. These machines reach no such host, no npm
// package ships it, and it is Java, so the Go module proxy cannot build it. The SDK runs an
// existing binary (`executable: { type: 'existing-path', path }`, started as `<path> <port>`):
// when HERALD_TEST_SERVER names one, or one lies in Herald's cache, it is used. Otherwise the
// tests run against the Temporal CLI's dev server (createLocal) in real time; they keep every
// duration short, and wait for what they expect rather than for fixed times, so they pass on both.

try {
  // Failed activities and workflows are what many tests expect: keep the SDK's log to errors.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed in this process
}

export function timeSkippingServerPath(): string | undefined {
  const candidates = [process.env.HERALD_TEST_SERVER, path.join(temporalCliCacheDir(), 'temporal-test-server')];
  return candidates.find((p): p is string => Boolean(p) && existsSync(p!));
}

export async function createWorkflowTestEnvironment(): Promise<TestWorkflowEnvironment> {
  const testServer = timeSkippingServerPath();
  if (testServer) {
    const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServer } } });
    await registerSearchAttributes(env);
    return env;
  }
  const cli = process.env.HERALD_TEST_TEMPORAL_CLI ?? (await resolveTemporalCli(process.env.TEMPORAL_CLI));
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, searchAttributes: Object.values(SEARCH_ATTRIBUTE_KEYS) },
  });
}

/** The test server knows no custom search attribute until it is told (where it implements the call). */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const { INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_KEYWORD_LIST } = temporal.api.enums.v1.IndexedValueType;
  const searchAttributes = Object.fromEntries(
    Object.values(SEARCH_ATTRIBUTE_KEYS).map((k) => [
      k.name,
      k.type === 'KEYWORD_LIST' ? INDEXED_VALUE_TYPE_KEYWORD_LIST : INDEXED_VALUE_TYPE_KEYWORD,
    ]),
  );
  try {
    await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
  } catch (err) {
    // 12 UNIMPLEMENTED: this server accepts search attributes without registration.
    if ((err as { code?: number }).code !== 12) throw err;
  }
}
