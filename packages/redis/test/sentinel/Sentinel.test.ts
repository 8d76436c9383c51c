import { assert, describe, it } from "@effect/vitest"
import * as Address from "@redis-effect/redis/Address"
import * as Command from "@redis-effect/redis/Command"
import * as RedisError from "@redis-effect/redis/RedisError"
import * as Sentinel from "@redis-effect/redis/Sentinel"
import { Transport } from "@redis-effect/redis/Transport"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

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
  it("skips a listed replica that reports itself master (a restarted stale primary)", () => {
    assert.isTrue(Sentinel.isHealthyReplica({ flags: "slave", "role-reported": "slave" }))
    assert.isFalse(Sentinel.isHealthyReplica({ flags: "slave", "role-reported": "master" }))
  })
  // Sentinel addresses are read by `Address.parse` with 26379 as the default port.
  it("parses sentinel addresses", () => {
    assert.deepStrictEqual(Address.parse("10.0.0.1:26380", 26379), { host: "10.0.0.1", port: 26380 })
    assert.deepStrictEqual(Address.parse("[::1]:26379", 26379), { host: "::1", port: 26379 })
    assert.deepStrictEqual(Address.parse("10.0.0.1", 26379), { host: "10.0.0.1", port: 26379 })
  })
  it.effect("an invalid sentinel address fails with InvalidArgument before anything is dialled", () =>
    Effect.gen(function*() {
      const noNetwork = Transport.of({ open: () => Effect.die("no network in this test") })
      for (const sentinels of [["10.0.0.1:notaport"], []]) {
        const error = yield* Sentinel.make({ sentinels, masterName: "mymaster" }).pipe(
          Effect.scoped,
          Effect.provideService(Transport, noNetwork),
          Effect.flip
        )
        assert.strictEqual(error.reason._tag, "InvalidArgument")
      }
    }))
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

  describe("layers from Config", () => {
    const fromConfig = {
      sentinels: Config.Array(Schema.String, "SENTINELS"),
      masterName: Config.String("SENTINEL_MASTER"),
      password: Config.Redacted("REDIS_PASSWORD"),
      sentinelPassword: Config.Redacted("SENTINEL_PASSWORD"),
      switchTimeout: Config.Duration("SWITCH_TIMEOUT")
    }
    // Config fails before anything is dialled.
    const noNetwork = Transport.of({ open: () => Effect.die("no network in this test") })

    it.effect("reads the options from a ConfigProvider, passwords as Redacted", () =>
      Effect.gen(function*() {
        const provider = ConfigProvider.fromUnknown({
          SENTINELS: ["10.0.0.1:26379", "10.0.0.2:26379"],
          SENTINEL_MASTER: "mymaster",
          REDIS_PASSWORD: "data-pw-123",
          SENTINEL_PASSWORD: "sentinel-pw-456",
          SWITCH_TIMEOUT: "2 seconds"
        })
        const options = yield* Config.unwrap<Sentinel.Options>(fromConfig).parse(provider)
        assert.deepStrictEqual(options.sentinels, ["10.0.0.1:26379", "10.0.0.2:26379"])
        assert.strictEqual(options.masterName, "mymaster")
        assert.isTrue(Redacted.isRedacted(options.password))
        assert.strictEqual(Redacted.value(options.password as Redacted.Redacted<string>), "data-pw-123")
        assert.notInclude(String(options.sentinelPassword), "sentinel-pw-456")
        assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(options.switchTimeout!)), 2000)
        // From the environment too: a comma-separated list.
        const env = ConfigProvider.fromEnv({
          env: { SENTINELS: "a:1,b:2", SENTINEL_MASTER: "m", REDIS_PASSWORD: "x", SENTINEL_PASSWORD: "y", SWITCH_TIMEOUT: "1 second" }
        })
        assert.deepStrictEqual((yield* Config.unwrap<Sentinel.Options>(fromConfig).parse(env)).sentinels, ["a:1", "b:2"])
      }))

    it.effect("a missing option fails the layers with a ConfigError that does not show the passwords", () =>
      Effect.gen(function*() {
        const provider = ConfigProvider.fromUnknown({
          SENTINEL_MASTER: "mymaster",
          REDIS_PASSWORD: "data-pw-123",
          SENTINEL_PASSWORD: "sentinel-pw-456",
          SWITCH_TIMEOUT: "2 seconds"
        })
        for (const layer of [Sentinel.layerMasterConfig(fromConfig), Sentinel.layerReplicaConfig(fromConfig), Sentinel.layerConfig(fromConfig)]) {
          const error = yield* Layer.build(layer as Layer.Layer<unknown, unknown, Transport>).pipe(
            Effect.scoped,
            Effect.provideService(Transport, noNetwork),
            Effect.provideService(ConfigProvider.ConfigProvider, provider),
            Effect.flip
          )
          assert.strictEqual((error as { readonly _tag?: string })._tag, "ConfigError")
          const text = String(error) + JSON.stringify(error)
          assert.include(text, "SENTINELS")
          assert.notInclude(text, "data-pw-123")
          assert.notInclude(text, "sentinel-pw-456")
        }
      }))
  })
})

describe("Sentinel.problemOf", () => {
  const base: Sentinel.Options = { sentinels: ["127.0.0.1:26379"], masterName: "m" }
  it("accepts the defaults and every documented value", () => {
    assert.isUndefined(Sentinel.problemOf(base))
    for (const replicaSelection of ["roundRobin", "random", "lowestLatency", () => undefined] as const) {
      assert.isUndefined(Sentinel.problemOf({ ...base, replicaSelection }))
    }
    assert.isUndefined(Sentinel.problemOf({
      ...base,
      replicaCheckInterval: "5 seconds",
      addressRemap: { "10.0.0.1:6379": "127.0.0.1:6379" }
    }))
    assert.isUndefined(Sentinel.problemOf({ ...base, addressRemap: (a) => a }))
  })

  const BAD: ReadonlyArray<readonly [Partial<Sentinel.Options>, string]> = [
    [{ replicaSelection: "nearest" as never }, "replicaSelection"],
    [{ replicaCheckInterval: 0 }, "replicaCheckInterval"],
    [{ replicaCheckInterval: "soon" as never }, "replicaCheckInterval"],
    [{ replicaCheckInterval: Duration.infinity }, "replicaCheckInterval"],
    [{ addressRemap: { "10.0.0.1": "127.0.0.1:6379" } }, "addressRemap"],
    [{ addressRemap: { "10.0.0.1:6379": "127.0.0.1" } }, "addressRemap"],
    [{ refreshInterval: -1 }, "refreshInterval"]
  ]
  it("refuses bad values, naming the option", () => {
    for (const [bad, name] of BAD) {
      const problem = Sentinel.problemOf({ ...base, ...bad })
      assert.isDefined(problem, name)
      assert.include(problem!, name)
    }
  })
})
