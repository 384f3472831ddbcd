/**
 * The fault-injection suite (`npm run test:faults`): the whole stack as separate processes
 * (compiled API and worker from dist/, a Temporal dev server, a PostgreSQL cluster of its own,
 * smtp-server or Postfix's smtp-sink), one fault per scenario. See RELIABILITY.md.
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
  globalSetup: '<rootDir>/test/faults/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
  // Each scenario runs five processes and restarts some: one scenario at a time on 2 cores.
  maxWorkers: 1,
  testTimeout: 240_000,
  // Slow is normal here (a scenario takes 20-60 s): only report beyond that.
  slowTestThreshold: 120,
};
