/**
 * `SentinelReplica.chooser`: which ready replica a command goes to under
 * each `replicaSelection` policy, over plain candidate records.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as SentinelReplica from "@redis-effect/redis/sentinel/SentinelReplica"

interface Fake extends SentinelReplica.Candidate {
  ready: boolean
}
const fake = (port: number, ready = true): Fake => ({
  address: `127.0.0.1:${port}`,
  endpoint: RedisConfig.tcp("127.0.0.1", port),
  ready
})
const ports = (picked: ReadonlyArray<Fake | undefined>) => picked.map((n) => n?.endpoint._tag === "Tcp" ? n.endpoint.port : 0)

const run = (selection: SentinelReplica.ReplicaSelection, list: ReadonlyArray<Fake>, n: number, rtt = new Map<string, number>()) => {
  const choose = SentinelReplica.chooser<Fake>(selection, (x) => x.ready, (a) => rtt.get(a) ?? Infinity)
  return ports(Array.from({ length: n }, () => choose(list)))
}

describe("SentinelReplica.chooser", () => {
  const three = [fake(6380), fake(6381), fake(6382)]

  it("roundRobin: each ready replica in turn; not-ready ones skipped; any one when none is ready", () => {
    assert.deepStrictEqual(run("roundRobin", three, 6), [6380, 6381, 6382, 6380, 6381, 6382])
    assert.deepStrictEqual(run("roundRobin", [fake(6380), fake(6381, false), fake(6382)], 4), [6380, 6382, 6380, 6382])
    assert.strictEqual(run("roundRobin", [fake(6380, false), fake(6381, false)], 4).length, 4)
    assert.deepStrictEqual(run("roundRobin", [], 1), [0])
  })

  it("random: only ready replicas, all of them over many picks", () => {
    const picked = run("random", [fake(6380), fake(6381, false), fake(6382)], 200)
    assert.isTrue(picked.every((p) => p !== 6381))
    assert.deepStrictEqual([...new Set(picked)].sort(), [6380, 6382])
  })

  it("lowestLatency: the lowest measured round trip among ready replicas; round robin before any measure", () => {
    const rtt = new Map([["127.0.0.1:6380", 5], ["127.0.0.1:6381", 0.2], ["127.0.0.1:6382", 1]])
    assert.deepStrictEqual(run("lowestLatency", three, 3, rtt), [6381, 6381, 6381])
    assert.deepStrictEqual(run("lowestLatency", [fake(6380), fake(6381, false), fake(6382)], 2, rtt), [6382, 6382])
    assert.deepStrictEqual(run("lowestLatency", three, 3), [6380, 6381, 6382])
  })

  it("a function: its pick among the addresses in use; round robin when it names none or a node not ready", () => {
    const seen: Array<ReadonlyArray<number>> = []
    const last = (replicas: ReadonlyArray<{ readonly host: string; readonly port: number }>) => {
      seen.push(replicas.map((r) => r.port))
      return replicas[replicas.length - 1]
    }
    assert.deepStrictEqual(run(last, three, 3), [6382, 6382, 6382])
    assert.deepStrictEqual(seen[0], [6380, 6381, 6382])
    assert.deepStrictEqual(run(() => undefined, three, 2), [6380, 6381])
    assert.deepStrictEqual(run(last, [fake(6380), fake(6381), fake(6382, false)], 2), [6380, 6381])
  })
})
