/** Unit tests and integration tests against a real Temporal dev server, PostgreSQL and SMTP server. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The fault-injection suite has its own config (jest.faults.config.js, npm run test:faults).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/', '<rootDir>/test/cluster/'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  // Each integration file runs its own worker: two at a time fit a 2-core machine.
  maxWorkers: 2,
};
