import { assert, describe, it } from "@effect/vitest"
import * as Command from "@redis-effect/redis/Command"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"

describe("Sentinel (pure)", () => {
  it("parses +switch-master", () => {
    assert.deepStrictEqual(Sentinel.parseSwitchMaster("mymaster 127.0.0.1 6379 127.0.0.1 6380"), {
      name: "mymaster",
      from: { _tag: "Tcp", host: "127.0.0.1", port: 6379 },
      to: { _tag: "Tcp", host: "127.0.0.1", port: 6380 }
    })
    assert.isUndefined(Sentinel.parseSwitchMaster("mymaster 127.0.0.1"))
  })
  it("parses +promoted-slave", () => {
    assert.deepStrictEqual(Sentinel.parsePromoted("slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"), {
      name: "mymaster",
      from: { _tag: "Tcp", host: "127.0.0.1", port: 6379 },
      to: { _tag: "Tcp", host: "127.0.0.1", port: 6380 }
    })
  })
  it("tells which events concern a service", () => {
    assert.isTrue(Sentinel.concerns({ channel: "+sdown", payload: "master mymaster 127.0.0.1 6379" }, "mymaster"))
    assert.isTrue(Sentinel.concerns({ channel: "+sdown", payload: "slave 127.0.0.1:1 127.0.0.1 1 @ mymaster 127.0.0.1 2" }, "mymaster"))
    assert.isFalse(Sentinel.concerns({ channel: "+sdown", payload: "master other 127.0.0.1 6379" }, "mymaster"))
    assert.isTrue(Sentinel.concerns({ channel: "+switch-master", payload: "mymaster a 1 b 2" }, "mymaster"))
  })
  it("skips replicas flagged down or disconnected", () => {
    assert.isTrue(Sentinel.isHealthyReplica({ flags: "slave" }))
    assert.isFalse(Sentinel.isHealthyReplica({ flags: "slave,s_down" }))
    assert.isFalse(Sentinel.isHealthyReplica({ flags: "slave,o_down" }))
    assert.isFalse(Sentinel.isHealthyReplica({ flags: "slave,disconnected" }))
  })
  it("parses sentinel addresses", () => {
    assert.deepStrictEqual(Sentinel.parseAddress("10.0.0.1:26380"), { _tag: "Tcp", host: "10.0.0.1", port: 26380 })
    assert.deepStrictEqual(Sentinel.parseAddress("[::1]:26379"), { _tag: "Tcp", host: "::1", port: 26379 })
  })
  it("resends only what cannot run twice", () => {
    const write = Command.unsafeMake("RPUSH", ["RPUSH", "k", "v"], ["k"], Command.Flags.WRITE, Command.Reply.integer)
    const read = Command.unsafeMake("GET", ["GET", "k"], ["k"], Command.Flags.READONLY, Command.Reply.raw)
    const closed = (outcome: RedisError.Outcome) => RedisError.make(new RedisError.Closed({ message: "x" }), outcome)
    assert.isTrue(Sentinel.isSafeToResend(write, closed("NotSent")))
    assert.isFalse(Sentinel.isSafeToResend(write, closed("Unknown")))
    assert.isTrue(Sentinel.isSafeToResend(read, closed("Unknown")))
    assert.isTrue(Sentinel.isSafeToResend(write, RedisError.make(new RedisError.ReadOnly({ message: "READONLY" }), "Rejected")))
    assert.isFalse(Sentinel.isSafeToResend(write, RedisError.make(new RedisError.MasterNotFound({ message: "", masterName: "m" }), "NotSent")))
  })
})
