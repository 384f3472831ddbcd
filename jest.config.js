/** Unit tests and integration tests against a real Temporal dev server, PostgreSQL and SMTP server. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 60_000,
  // Each integration file runs its own worker: two at a time fit a 2-core machine.
  maxWorkers: 2,
};
