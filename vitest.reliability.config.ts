import { defineConfig } from 'vitest/config';

// The reliability suite (test/reliability, ../shared/RELIABILITY.md): fault scenarios with
// worker processes, a throwaway PostgreSQL cluster and a TCP proxy. Files run one at a time
// because the scenarios measure takeover times on a 2-core machine; a file's scenarios share it.
export default defineConfig({
  resolve: { conditions: ['baton-source'] },
  ssr: { resolve: { conditions: ['baton-source'] } },
  test: {
    name: 'reliability',
    include: ['test/reliability/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
