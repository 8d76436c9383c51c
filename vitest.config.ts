/**
 * The vitest projects: `unit` (pure and fake-connection tests, no server) and
 * `integration` (`*.integration.test.ts`, against real redis-server
 * processes that each file starts and stops itself).
 */
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**"]
        }
      },
      {
        test: {
          name: "integration",
          include: ["packages/*/test/**/*.integration.test.ts", "test/**/*.integration.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: servers and clients share them, so files run one at a time.
          fileParallelism: false
        }
      }
    ]
  }
})
