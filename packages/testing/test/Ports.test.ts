import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ports from "../src/Ports.ts"

const bindable = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = Net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen({ host: "127.0.0.1", port }, () => server.close(() => resume(Effect.succeed(true))))
  })

describe("Ports", () => {
  it.effect("hands out distinct free ports whose bus port is free as well, below the ephemeral range", () =>
    Effect.gen(function*() {
      const ports = yield* Ports.freePorts(8)
      assert.strictEqual(new Set(ports).size, 8)
      for (const port of ports) {
        // Bus port included: no outgoing connection can be given either.
        assert.isAtLeast(port, 10_000)
        assert.isBelow(port + 10_000, 32_768)
        assert.isTrue(yield* bindable(port))
        assert.isTrue(yield* bindable(port + 10_000))
      }
    }))
})
