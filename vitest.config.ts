import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // A unit test that does real work (200 jobs through SQLite, a year of cron
          // ticks) takes well under a second here, but a CI machine can be 3× slower
          // and loaded: a hang still fails, a slow machine does not.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts', 'test/security/**/*.test.ts', 'test/faults/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: containers, registries and daemons compete for them.
          maxWorkers: 2,
        },
      },
    ],
  },
})
