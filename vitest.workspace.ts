/**
 * The vitest projects, imported by `vitest.config.ts` (vitest 5 reads no
 * workspace file by itself):
 *
 * - `unit`: pure code and effectful units with fake connections and
 *   `TestClock`; no server.
 * - `integration`: `*.integration.test.ts`, against real redis-server,
 *   cluster and sentinel processes that each file starts and stops itself.
 */
import type { TestProjectConfiguration } from "vitest/config"

export const projects: Array<TestProjectConfiguration> = [
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
