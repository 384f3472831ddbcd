/**
 * The production topology test (`npm run test:cluster`): the real Temporal server on PostgreSQL,
 * two workers and two APIs, faults under load. It shares the fault suite's setup (its own
 * PostgreSQL cluster, smtp-sink, run folder and summary table). RELIABILITY.md has the figures.
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  globalSetup: '<rootDir>/test/faults/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
  maxWorkers: 1,
  testTimeout: 600_000,
  slowTestThreshold: 300,
};
