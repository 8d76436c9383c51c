/**
 * The cluster options checked when a layer is built (`Cluster.problemOf`,
 * `ClusterNodes.remapProblem`): each problem names its option. The node
 * connection options' `readOnly` follows the client's read-only mode.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cluster from "../../src/cluster/Cluster.ts"
import * as ClusterNodes from "../../src/cluster/ClusterNodes.ts"
import * as RedisConfig from "../../src/RedisConfig.ts"

describe("Cluster.problemOf", () => {
  it("accepts the defaults and every documented value", () => {
    assert.isUndefined(Cluster.problemOf({}))
    for (const readFrom of ["primary", "replica", "lowestLatency", (s: { primary: never }) => s.primary] as const) {
      assert.isUndefined(Cluster.problemOf({ readFrom: readFrom as Cluster.Options["readFrom"] }))
    }
    assert.isUndefined(Cluster.problemOf({ maxRedirects: 0, reinitializeSteps: 10, minRefreshInterval: 0, topologySampleSize: 5 }))
    assert.isUndefined(Cluster.problemOf({ cache: { maxEntries: 100 }, maxDedicated: 4 }))
    assert.isUndefined(Cluster.problemOf({ addressRemap: { "10.0.0.1:7000": "127.0.0.1:7000", "10.0.0.2:7000": { host: "h", port: 1 } } }))
    assert.isUndefined(Cluster.problemOf({ addressRemap: (a) => a }))
  })

  const BAD: ReadonlyArray<readonly [Cluster.Options, string]> = [
    [{ readFrom: "replicas" as never }, "readFrom"],
    [{ maxRedirects: -1 }, "maxRedirects"],
    [{ reinitializeSteps: 0 }, "reinitializeSteps"],
    [{ minRefreshInterval: 1.5 }, "minRefreshInterval"],
    [{ topologySampleSize: 0 }, "topologySampleSize"],
    [{ maxDedicated: 0 }, "maxDedicated"],
    [{ cache: { maxBytes: -1 } }, "cache.maxBytes"],
    [{ addressRemap: { "no-port": "127.0.0.1:1" } }, "addressRemap"],
    [{ addressRemap: { "10.0.0.1:7000": "nowhere" } }, "addressRemap"],
    [{ addressRemap: { "10.0.0.1:7000": { host: "h", port: 0 } } }, "addressRemap"],
    [{ addressRemap: "10.0.0.1:7000" as never }, "addressRemap"]
  ]
  it("refuses bad values, naming the option", () => {
    for (const [options, name] of BAD) {
      const problem = Cluster.problemOf(options)
      assert.isDefined(problem, name)
      assert.include(problem!, name)
    }
  })
})

describe("ClusterNodes.connectionOptions", () => {
  it("readOnly reads the mode at each access; a spread copy keeps the value of that moment", () => {
    const mode: ClusterNodes.ReadOnlyMode = { on: false }
    const options = ClusterNodes.connectionOptions({ endpoint: RedisConfig.tcp("x", 1) }, {
      readOnly: mode
    })({ host: "127.0.0.1", port: 7000 })
    assert.isFalse(options.readOnly)
    mode.on = true
    assert.isTrue(options.readOnly)
    const copy = { ...options }
    mode.on = false
    assert.isTrue(copy.readOnly)
    assert.isFalse(options.readOnly)
    assert.deepStrictEqual(options.endpoint, RedisConfig.tcp("127.0.0.1", 7000))
  })
})
