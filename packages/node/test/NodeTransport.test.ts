/**
 * `NodeTransport.keepAliveOf`: the keepalive a socket gets, with and
 * without the probe defaults (applied where Node can set them).
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as NodeTransport from "../src/NodeTransport.ts"

const endpoint = RedisConfig.tcp("h", 1)

describe("keepAliveOf", () => {
  it("defaults: 30 s, then RedisConfig's interval and count when the platform can set them", () => {
    assert.deepStrictEqual(NodeTransport.keepAliveOf({ endpoint }, true), {
      enable: true,
      initialDelay: 30_000,
      interval: 10_000,
      count: 3
    })
    assert.deepStrictEqual(NodeTransport.keepAliveOf({ endpoint }), { enable: true, initialDelay: 30_000 })
  })

  it("the options win over the defaults; keepAlive 0 turns it off", () => {
    assert.deepStrictEqual(
      NodeTransport.keepAliveOf({ endpoint, keepAlive: "7 seconds", keepAliveInterval: "2 seconds" }, true),
      { enable: true, initialDelay: 7000, interval: 2000, count: 3 }
    )
    assert.strictEqual(NodeTransport.keepAliveOf({ endpoint, keepAlive: 0 }, true).enable, false)
  })
})
