/**
 * The typed SENTINEL commands (`commands/sentinel.ts`): argv and flags, and
 * their replies parsed from RESP2 flat arrays and RESP3 maps.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cmd from "@redis-effect/redis/Command"
import * as S from "@redis-effect/redis/commands/sentinel"
import { RespMap } from "@redis-effect/redis/Resp"
import * as Option from "effect/Option"

const QUERY = Cmd.Flags.READONLY | Cmd.Flags.NO_KEYS
const ADMIN = Cmd.Flags.WRITE | Cmd.Flags.NO_KEYS

const masterRecord = [
  "name", "mymaster", "ip", "127.0.0.1", "port", "6379", "runid", "abc", "flags", "master",
  "num-slaves", "2", "num-other-sentinels", "2", "quorum", "2", "config-epoch", "3",
  "down-after-milliseconds", "1000", "failover-timeout", "5000", "parallel-syncs", "1"
]
const replicaRecord = [
  "name", "127.0.0.1:6380", "ip", "127.0.0.1", "port", "6380", "runid", "def", "flags", "slave,s_down",
  "master-link-status", "ok", "master-host", "127.0.0.1", "master-port", "6379", "slave-priority", "100",
  "slave-repl-offset", "4242"
]
const peerRecord = [
  "name", "xyz", "ip", "127.0.0.1", "port", "26380", "runid", "xyz", "flags", "sentinel",
  "voted-leader", "?", "voted-leader-epoch", "0"
]

describe("SENTINEL commands", () => {
  it("argv and flags: queries are read-only, administration writes; no keys", () => {
    const cases: ReadonlyArray<readonly [Cmd.Command<unknown>, ReadonlyArray<unknown>, number]> = [
      [S.sentinelMasters(), ["SENTINEL", "MASTERS"], QUERY],
      [S.sentinelMaster("m"), ["SENTINEL", "MASTER", "m"], QUERY],
      [S.sentinelReplicas("m"), ["SENTINEL", "REPLICAS", "m"], QUERY],
      [S.sentinelSentinels("m"), ["SENTINEL", "SENTINELS", "m"], QUERY],
      [S.sentinelGetMasterAddrByName("m"), ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"], QUERY],
      [S.sentinelCkquorum("m"), ["SENTINEL", "CKQUORUM", "m"], QUERY],
      [S.sentinelReset("m*"), ["SENTINEL", "RESET", "m*"], ADMIN],
      [S.sentinelFailover("m"), ["SENTINEL", "FAILOVER", "m"], ADMIN],
      [S.sentinelFlushconfig(), ["SENTINEL", "FLUSHCONFIG"], ADMIN | Cmd.Flags.IDEMPOTENT],
      [S.sentinelMonitor("m", "10.0.0.1", 6379, 2), ["SENTINEL", "MONITOR", "m", "10.0.0.1", 6379, 2], ADMIN],
      [S.sentinelRemove("m"), ["SENTINEL", "REMOVE", "m"], ADMIN],
      [S.sentinelSet("m", { quorum: 3, "down-after-milliseconds": "900" }), [
        "SENTINEL", "SET", "m", "quorum", 3, "down-after-milliseconds", "900"
      ], ADMIN | Cmd.Flags.IDEMPOTENT]
    ]
    for (const [command, args, flags] of cases) {
      assert.isUndefined(command.invalid)
      assert.deepStrictEqual(command.args, args)
      assert.deepStrictEqual(command.keys, [])
      assert.strictEqual(command.flags, flags, String(args))
      assert.strictEqual(command.name, "SENTINEL")
    }
  })

  it("bad arguments are refused before sending", () => {
    assert.isString(S.sentinelSet("m", {}).invalid)
    assert.isString(S.sentinelSet("m", { quorum: Number.NaN }).invalid)
    assert.isString(S.sentinelMonitor("m", "h", 0, 2).invalid)
    assert.isString(S.sentinelMonitor("m", "h", 6379, 0).invalid)
  })

  it("MASTER and MASTERS: typed fields and every field as text, RESP2 and RESP3", () => {
    for (const reply of [masterRecord, new RespMap(masterRecord)]) {
      const m = S.sentinelMaster("mymaster").decode(reply)
      assert.strictEqual(m.name, "mymaster")
      assert.strictEqual(m.host, "127.0.0.1")
      assert.strictEqual(m.port, 6379)
      assert.deepStrictEqual(m.flags, ["master"])
      assert.isFalse(m.down)
      assert.strictEqual(m.quorum, 2)
      assert.strictEqual(m.numReplicas, 2)
      assert.strictEqual(m.numOtherSentinels, 2)
      assert.strictEqual(m.configEpoch, 3)
      assert.strictEqual(m.downAfterMillis, 1000)
      assert.strictEqual(m.fields["parallel-syncs"], "1")
    }
    assert.strictEqual(S.sentinelMasters().decode([masterRecord, masterRecord]).length, 2)
  })

  it("REPLICAS and SENTINELS", () => {
    const [r] = S.sentinelReplicas("m").decode([replicaRecord])
    assert.strictEqual(r.port, 6380)
    assert.isTrue(r.down)
    assert.strictEqual(r.masterPort, 6379)
    assert.strictEqual(r.masterLinkStatus, "ok")
    assert.strictEqual(r.replicationOffset, 4242)
    assert.strictEqual(r.priority, 100)
    const [p] = S.sentinelSentinels("m").decode([new RespMap(peerRecord)])
    assert.strictEqual(p.port, 26380)
    assert.strictEqual(p.votedLeader, "?")
    assert.strictEqual(p.votedLeaderEpoch, 0)
  })

  it("GET-MASTER-ADDR-BY-NAME: an address, or none for an unknown name; RESET counts; the rest OK", () => {
    assert.deepStrictEqual(
      S.sentinelGetMasterAddrByName("m").decode(["127.0.0.1", "6379"]),
      Option.some({ host: "127.0.0.1", port: 6379 })
    )
    assert.deepStrictEqual(S.sentinelGetMasterAddrByName("m").decode(null), Option.none())
    assert.strictEqual(S.sentinelReset("*").decode(2), 2)
    assert.strictEqual(S.sentinelCkquorum("m").decode("OK 3 usable Sentinels."), "OK 3 usable Sentinels.")
    assert.isUndefined(S.sentinelFailover("m").decode("OK"))
  })

  it("a record without an address is an unexpected reply", () => {
    assert.throws(() => S.sentinelMaster("m").decode(["name", "m"]), Cmd.UnexpectedReply)
    assert.throws(() => S.sentinelGetMasterAddrByName("m").decode(["127.0.0.1"]), Cmd.UnexpectedReply)
  })
})
