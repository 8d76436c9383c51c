/**
 * The pure readings of what sentinels say that are not covered through
 * `Sentinel` in Sentinel.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as SentinelEvents from "@redis-effect/redis/sentinel/SentinelEvents"

describe("SentinelEvents", () => {
  it("reads an announcement from +switch-master and +promoted-slave only", () => {
    const expected = { name: "m", from: RedisConfig.tcp("10.0.0.1", 6379), to: RedisConfig.tcp("10.0.0.2", 6380) }
    assert.deepStrictEqual(
      SentinelEvents.announcement({ channel: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.2 6380" }),
      expected
    )
    assert.deepStrictEqual(
      SentinelEvents.announcement({
        channel: "+promoted-slave",
        payload: "slave 10.0.0.2:6380 10.0.0.2 6380 @ m 10.0.0.1 6379"
      }),
      expected
    )
    assert.isUndefined(SentinelEvents.announcement({ channel: "+sdown", payload: "m 10.0.0.1 6379 10.0.0.2 6380" }))
    assert.isUndefined(SentinelEvents.announcement({ channel: "+switch-master", payload: "m 10.0.0.1 x 10.0.0.2 6380" }))
  })

  it("reads the failover steps: a selection names the replica and the primary, an abort the primary", () => {
    const selection = { _tag: "Selected" as const, name: "m", master: RedisConfig.tcp("10.0.0.1", 6379), replica: RedisConfig.tcp("10.0.0.2", 6380) }
    for (const channel of ["+selected-slave", "+failover-state-send-slaveof-noone"]) {
      assert.deepStrictEqual(
        SentinelEvents.failoverStep({ channel, payload: "slave 10.0.0.2:6380 10.0.0.2 6380 @ m 10.0.0.1 6379" }),
        selection
      )
    }
    assert.deepStrictEqual(
      SentinelEvents.failoverStep({ channel: "-failover-abort-no-good-slave", payload: "master m 10.0.0.1 6379" }),
      { _tag: "Ended", name: "m", master: RedisConfig.tcp("10.0.0.1", 6379) }
    )
    assert.isUndefined(SentinelEvents.failoverStep({ channel: "+selected-slave", payload: "slave 10.0.0.2:6380 10.0.0.2 x @ m 10.0.0.1 6379" }))
    assert.isUndefined(SentinelEvents.failoverStep({ channel: "-failover-abort-not-elected", payload: "master m 10.0.0.1" }))
    assert.isUndefined(SentinelEvents.failoverStep({ channel: "+promoted-slave", payload: "slave 10.0.0.2:6380 10.0.0.2 6380 @ m 10.0.0.1 6379" }))
    // Watched on every sentinel.
    for (const c of ["+selected-slave", "-failover-abort-slave-timeout"]) assert.include(SentinelEvents.EVENT_CHANNELS, c)
  })

  it("a primary its sentinel sees down, or that too few sentinels watch, does not count", () => {
    assert.isUndefined(SentinelEvents.masterRejection({ flags: "master", "num-other-sentinels": "2" }, "a:1", 2))
    assert.strictEqual(
      SentinelEvents.masterRejection({ flags: "master,s_down", "num-other-sentinels": "2" }, "a:1", 0),
      "reports a:1 down (master,s_down)"
    )
    assert.strictEqual(
      SentinelEvents.masterRejection({ flags: "master", "num-other-sentinels": "1" }, "a:1", 2),
      "sees 1 other sentinels, fewer than 2"
    )
  })

  it("keys nodes as host:port, IPv6 in brackets", () => {
    assert.strictEqual(SentinelEvents.keyOf(RedisConfig.tcp("10.0.0.1", 6379)), "10.0.0.1:6379")
    assert.strictEqual(SentinelEvents.keyOf(RedisConfig.tcp("::1", 6379)), "[::1]:6379")
  })
})

describe("SentinelEvents.remapAnnouncement", () => {
  const remap = (a: { readonly host: string; readonly port: number }) =>
    a.host === "10.0.0.2" ? { host: "public.example", port: a.port + 1000 } : a
  const at = { sentinel: "s:1", receivedAt: 0 }

  it("rewrites the addresses of +switch-master and +promoted-slave; what announcement reads follows", () => {
    const sw = SentinelEvents.remapAnnouncement(
      { ...at, channel: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.2 6380" },
      remap
    )
    assert.strictEqual(sw.payload, "m 10.0.0.1 6379 public.example 7380")
    assert.deepStrictEqual(SentinelEvents.announcement(sw)?.to, RedisConfig.tcp("public.example", 7380))
    const promoted = SentinelEvents.remapAnnouncement(
      { ...at, channel: "+promoted-slave", payload: "slave 10.0.0.2:6380 10.0.0.2 6380 @ m 10.0.0.1 6379" },
      remap
    )
    assert.strictEqual(promoted.payload, "slave public.example:7380 public.example 7380 @ m 10.0.0.1 6379")
    assert.deepStrictEqual(SentinelEvents.announcement(promoted)?.to, RedisConfig.tcp("public.example", 7380))
    // The failover steps too: a hold compares them with the remapped primary.
    const chosen = SentinelEvents.remapAnnouncement(
      { ...at, channel: "+selected-slave", payload: "slave 10.0.0.2:6380 10.0.0.2 6380 @ m 10.0.0.1 6379" },
      remap
    )
    assert.strictEqual(chosen.payload, "slave public.example:7380 public.example 7380 @ m 10.0.0.1 6379")
    const aborted = SentinelEvents.remapAnnouncement(
      { ...at, channel: "-failover-abort-no-good-slave", payload: "master m 10.0.0.2 6380" },
      remap
    )
    assert.deepStrictEqual(SentinelEvents.failoverStep(aborted), { _tag: "Ended", name: "m", master: RedisConfig.tcp("public.example", 7380) })
  })

  it("other events, malformed payloads and untouched addresses come back as they are", () => {
    for (
      const e of [
        { ...at, channel: "+sdown", payload: "master m 10.0.0.2 6380" },
        { ...at, channel: "+switch-master", payload: "m 10.0.0.1 x 10.0.0.2 6380" },
        { ...at, channel: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.3 6380" }
      ]
    ) assert.strictEqual(SentinelEvents.remapAnnouncement(e, remap), e)
  })
})
