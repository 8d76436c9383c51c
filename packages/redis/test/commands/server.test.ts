import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { Flags, isResendable } from "../../src/Command.ts"
import { RespMap } from "../../src/Resp.ts"
import { parseInfo } from "../../src/commands/parsers.ts"
import * as S from "../../src/commands/server.ts"

describe("server", () => {
  it("PING and ECHO are keyless reads", () => {
    const p = S.ping()
    assert.deepStrictEqual(p.args, ["PING"])
    assert.strictEqual(p.flags, Flags.NO_KEYS | Flags.READONLY)
    assert.strictEqual(p.decode("PONG"), "PONG")
    assert.deepStrictEqual(S.ping("hi").args, ["PING", "hi"])
    assert.deepStrictEqual(S.echo("x").args, ["ECHO", "x"])
  })

  it("TIME decodes seconds and microseconds", () => {
    assert.deepStrictEqual(S.time().decode(["1700000000", "123456"]), { seconds: 1700000000, microseconds: 123456 })
  })

  it("FLUSHALL/FLUSHDB fan out and take a mode", () => {
    const f = S.flushall("ASYNC")
    assert.deepStrictEqual(f.args, ["FLUSHALL", "ASYNC"])
    assert.strictEqual(f.flags & Flags.ALL_NODES, Flags.ALL_NODES)
    assert.deepStrictEqual(S.flushdb().args, ["FLUSHDB"])
    assert.strictEqual(S.flushdb().flags & Flags.ALL_NODES, Flags.ALL_NODES)
  })

  it("INFO with sections", () => {
    assert.deepStrictEqual(S.info().args, ["INFO"])
    assert.deepStrictEqual(S.info("server").args, ["INFO", "server"])
    assert.deepStrictEqual(S.info(["server", "clients"]).args, ["INFO", "server", "clients"])
    assert.strictEqual(S.info().decode(new TextEncoder().encode("# Server\r\n")), "# Server\r\n")
  })

  it("parseInfo splits sections and fields", () => {
    const text = "# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\nexecutable:/usr/bin/redis:server\r\n"
    assert.deepStrictEqual(parseInfo(text), {
      server: { redis_version: "7.2.4", redis_mode: "standalone" },
      keyspace: { "db0": "keys=1,expires=0,avg_ttl=0", executable: "/usr/bin/redis:server" }
    })
    assert.deepStrictEqual(parseInfo("a:1\nb:2"), { "": { a: "1", b: "2" } })
    assert.deepStrictEqual(parseInfo(""), {})
  })

  it("CONFIG GET decodes RESP2 flat arrays and RESP3 maps", () => {
    const c = S.configGet(["maxmemory", "port"])
    assert.deepStrictEqual(c.args, ["CONFIG", "GET", "maxmemory", "port"])
    assert.strictEqual(c.name, "CONFIG")
    assert.deepStrictEqual(c.decode(["maxmemory", "0", "port", "6379"]), { maxmemory: "0", port: "6379" })
    assert.deepStrictEqual(c.decode(new RespMap(["port", "6379"])), { port: "6379" })
    assert.isString(S.configGet([]).invalid)
  })

  it("CONFIG SET/RESETSTAT/REWRITE", () => {
    const c = S.configSet({ maxmemory: "1mb", "hz": 10 })
    assert.deepStrictEqual(c.args, ["CONFIG", "SET", "maxmemory", "1mb", "hz", 10])
    assert.strictEqual(c.flags, Flags.NO_KEYS | Flags.ALL_NODES | Flags.IDEMPOTENT)
    assert.isString(S.configSet({}).invalid)
    assert.isString(S.configSet([["hz", NaN]]).invalid)
    assert.strictEqual(S.configResetstat().flags & Flags.ALL_NODES, Flags.ALL_NODES)
    assert.deepStrictEqual(S.configRewrite().args, ["CONFIG", "REWRITE"])
  })

  it("COMMAND subcommands", () => {
    assert.strictEqual(S.commandCount().decode(240), 240)
    assert.deepStrictEqual(S.commandInfo(["get"]).args, ["COMMAND", "INFO", "get"])
    assert.deepStrictEqual(S.commandDocs(["get"]).decode(new RespMap(["get", ["summary", "x"]])), {
      get: ["summary", "x"]
    })
    assert.deepStrictEqual(S.commandGetkeys(["SET", "k", "v"]).args, ["COMMAND", "GETKEYS", "SET", "k", "v"])
    assert.isString(S.commandGetkeys([]).invalid)
    assert.deepStrictEqual(S.commandList({ aclcat: "read" }).args, ["COMMAND", "LIST", "FILTERBY", "ACLCAT", "read"])
  })

  describe("ROLE", () => {
    it("master", () => {
      assert.deepStrictEqual(
        S.role().decode(["master", 3129659, [["127.0.0.1", "9001", "3129242"], ["127.0.0.1", "9002", "3129543"]]]),
        {
          role: "master",
          replicationOffset: 3129659,
          replicas: [
            { host: "127.0.0.1", port: 9001, offset: 3129242 },
            { host: "127.0.0.1", port: 9002, offset: 3129543 }
          ]
        }
      )
    })
    it("slave", () => {
      assert.deepStrictEqual(S.role().decode(["slave", "127.0.0.1", 9000, "connected", 3167038]), {
        role: "slave",
        masterHost: "127.0.0.1",
        masterPort: 9000,
        state: "connected",
        offset: 3167038
      })
    })
    it("sentinel", () => {
      assert.deepStrictEqual(S.role().decode(["sentinel", ["mymaster", "other"]]), {
        role: "sentinel",
        masterNames: ["mymaster", "other"]
      })
    })
    it("unknown role throws UnexpectedReply", () => {
      assert.throws(() => S.role().decode(["leader", 1]), /unknown role/)
    })
  })

  it("SLOWLOG GET decodes entries with and without client fields", () => {
    const c = S.slowlogGet(2)
    assert.deepStrictEqual(c.args, ["SLOWLOG", "GET", 2])
    assert.deepStrictEqual(c.decode([[14, 1309448221, 15, ["ping"], "127.0.0.1:58217", ""], [13, 1309448128, 30, ["slowlog", "get", "100"]]]), [
      { id: 14, timestamp: 1309448221, durationMicros: 15, args: ["ping"], clientAddress: Option.some("127.0.0.1:58217"), clientName: Option.none() },
      { id: 13, timestamp: 1309448128, durationMicros: 30, args: ["slowlog", "get", "100"], clientAddress: Option.none(), clientName: Option.none() }
    ])
    assert.isString(S.slowlogGet(-2).invalid)
    assert.strictEqual(S.slowlogLen().decode(3), 3)
  })

  it("MEMORY USAGE has the key and decodes nil", () => {
    const c = S.memoryUsage("k", { samples: 0 })
    assert.deepStrictEqual(c.args, ["MEMORY", "USAGE", "k", "SAMPLES", 0])
    assert.deepStrictEqual(c.keys, ["k"])
    assert.deepStrictEqual(c.decode(null), Option.none())
    assert.deepStrictEqual(c.decode(56), Option.some(56))
  })

  it("LATENCY LATEST and RESET", () => {
    assert.deepStrictEqual(S.latencyLatest().decode([["command", 1405067976, 251, 1001]]), [
      { event: "command", timestamp: 1405067976, latestMs: 251, maxMs: 1001 }
    ])
    assert.deepStrictEqual(S.latencyReset(["command"]).args, ["LATENCY", "RESET", "command"])
  })

  it("DEBUG SLEEP is blocking; WAIT and WAITAOF follow the caller's writes (not blocking, not keyless)", () => {
    const d = S.debugSleep(0.5)
    assert.deepStrictEqual(d.args, ["DEBUG", "SLEEP", 0.5])
    assert.strictEqual(d.name, "DEBUG")
    assert.strictEqual(d.flags & Flags.BLOCKING, Flags.BLOCKING)
    assert.isString(S.debugSleep(-1).invalid)
    const w = S.wait(1, 100)
    assert.deepStrictEqual(w.args, ["WAIT", 1, 100])
    // Not BLOCKING: a dedicated connection has no writes for WAIT to count.
    assert.strictEqual(w.flags, 0)
    assert.isFalse(isResendable(w))
    assert.isString(S.wait(NaN, 10).invalid)
    // 0 would hold the shared connection forever.
    assert.match(S.wait(1, 0).invalid ?? "", /timeout must be an integer >= 1/)
    const a = S.waitaof(1, 0, 10)
    assert.deepStrictEqual(a.args, ["WAITAOF", 1, 0, 10])
    assert.strictEqual(a.flags, 0)
    assert.isString(S.waitaof(1, 0, 0).invalid)
    assert.deepStrictEqual(a.decode([1, 0]), { local: 1, replicas: 0 })
  })

  it("persistence and misc", () => {
    assert.deepStrictEqual(S.bgsave({ schedule: true }).args, ["BGSAVE", "SCHEDULE"])
    assert.strictEqual(S.bgrewriteaof().decode("Background append only file rewriting started"), "Background append only file rewriting started")
    assert.strictEqual(S.lastsave().decode(1700000000), 1700000000)
    assert.deepStrictEqual(S.save().args, ["SAVE"])
    assert.deepStrictEqual(S.swapdb(0, 1).args, ["SWAPDB", 0, 1])
    assert.isString(S.swapdb(0, -1).invalid)
    assert.deepStrictEqual(S.lolwut({ version: 5 }).args, ["LOLWUT", "VERSION", 5])
    assert.strictEqual(S.monitor().flags & Flags.CONNECTION_STATE, Flags.CONNECTION_STATE)
  })

  it("SHUTDOWN, REPLICAOF, FAILOVER", () => {
    assert.deepStrictEqual(S.shutdown({ mode: "NOSAVE", now: true }).args, ["SHUTDOWN", "NOSAVE", "NOW"])
    assert.strictEqual(S.shutdown().decode(null), undefined)
    assert.isString(S.shutdown({ mode: "SAVE", abort: true }).invalid)
    assert.deepStrictEqual(S.replicaof("10.0.0.1", 6379).args, ["REPLICAOF", "10.0.0.1", 6379])
    assert.deepStrictEqual(S.replicaofNoOne().args, ["REPLICAOF", "NO", "ONE"])
    assert.deepStrictEqual(
      S.failover({ to: { host: "h", port: 1, force: true }, timeout: 100 }).args,
      ["FAILOVER", "TO", "h", 1, "FORCE", "TIMEOUT", 100]
    )
    assert.isString(S.failover({ to: { host: "h", port: 1, force: true } }).invalid)
  })

  it("ACL", () => {
    assert.strictEqual(S.aclWhoami().decode("default"), "default")
    const set = S.aclSetuser("u", ["on", ">secret", "~*", "+@all"])
    assert.strictEqual(set.name, "ACL")
    assert.deepStrictEqual(set.args, ["ACL", "SETUSER", "u", "on", ">secret", "~*", "+@all"])
    assert.strictEqual(S.aclDeluser(["u"]).decode(1), 1)
    assert.isString(S.aclDeluser([]).invalid)
    assert.deepStrictEqual(S.aclGetuser("nobody").decode(null), Option.none())
    assert.deepStrictEqual(S.aclGetuser("u").decode(new RespMap(["flags", ["on"]])), Option.some({ flags: ["on"] }))
    assert.deepStrictEqual(S.aclCat("read").args, ["ACL", "CAT", "read"])
    assert.deepStrictEqual(S.aclLog(5).decode([["count", 1, "reason", "auth"]]), [{ count: 1, reason: "auth" }])
    assert.deepStrictEqual(S.aclLogReset().args, ["ACL", "LOG", "RESET"])
    assert.deepStrictEqual(S.aclUsers().decode(["default"]), ["default"])
    assert.deepStrictEqual(S.aclList().args, ["ACL", "LIST"])
  })
})
