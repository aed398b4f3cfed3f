import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // wasm: rebuild stale kernels; system-tools: obtain Chromium and tmux for the end-to-end tests.
    globalSetup: ['test/setup/wasm.ts', 'test/setup/system-tools.ts'],
  },
});
