/**
 * The middleware seam on every topology, against real servers: a recording
 * middleware sees every command a caller runs (`execute`, `batch`) and every
 * write to a node (`send`, `sendAll`) — pipeline members, transactions,
 * blocking commands on dedicated connections, cluster fan-out legs and
 * redirects, the primary of a Sentinel-managed service. And a client built
 * without one uses its connections as they are (nothing in between).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSentinel from "@redis-effect/node/NodeSentinel"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Cluster from "@redis-effect/redis/Cluster"
import type { Command } from "@redis-effect/redis/Command"
import * as Commands from "@redis-effect/redis/Commands"
import * as Middleware from "@redis-effect/redis/Middleware"
import * as Redis from "@redis-effect/redis/Redis"
import * as Standalone from "@redis-effect/redis/Standalone"
import { RedisCluster } from "@redis-effect/testing"
import * as RedisSentinel from "@redis-effect/testing/RedisSentinel"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

interface Seen {
  readonly hook: "execute" | "batch" | "send" | "sendAll"
  readonly what: string
  readonly node?: string
  readonly outcome?: string
}

// Records every hook call with the command (or batch) and, on the wire, the
// node and the outcome (`ok` or the failure's reason tag).
const recorder = () => {
  const seen: Array<Seen> = []
  const outcomeOf = (exit: Exit.Exit<unknown, { readonly reason?: { readonly _tag: string } }>) =>
    Exit.isSuccess(exit) ? "ok" : Option.match(Exit.findErrorOption(exit), {
      onNone: () => "defect",
      onSome: (e) => e.reason?._tag ?? "error"
    })
  const name = (c: Command<unknown>) =>
    c.args.map((a) => (typeof a === "string" || typeof a === "number" ? String(a) : "<bytes>")).join(" ")
  const middleware: Middleware.Middleware = {
    name: "recorder",
    execute: (command, next) => Effect.suspend(() => {
      seen.push({ hook: "execute", what: name(command) })
      return next
    }),
    batch: (kind, commands, next) =>
      Effect.suspend(() => {
        seen.push({ hook: "batch", what: `${kind}: ${commands.map(name).join("; ")}` })
        return next
      }),
    send: (node, command, next) =>
      Effect.onExit(next, (exit) =>
        Effect.sync(() => {
          seen.push({ hook: "send", what: name(command), node, outcome: outcomeOf(exit) })
        })),
    sendAll: (node, commands, next) =>
      Effect.tap(next, (exits) =>
        Effect.sync(() => {
          seen.push({
            hook: "sendAll",
            what: commands.map(name).join("; "),
            node,
            outcome: exits.map((e) => outcomeOf(e)).join(",")
          })
        }))
  }
  return { seen, middleware }
}

describe("middleware on a standalone server", () => {
  it.effect("sees single commands, pipeline members, transactions and blocking commands, with the node", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const { middleware, seen } = recorder()
      const redis = yield* Standalone.make({ port: server.port, middleware }).pipe(Effect.provide(NodeTransport.layer))
      const node = `127.0.0.1:${server.port}`
      yield* redis.set("mw:a", "1")
      assert.deepStrictEqual(yield* redis.get("mw:a"), Option.some("1"))
      yield* redis.pipeline([Commands.incr("mw:n"), Commands.get("mw:n")])
      yield* redis.transaction([Commands.incr("mw:t"), Commands.incr("mw:t")])
      yield* redis.rpush("mw:q", ["job"])
      yield* redis.execute(Commands.blpop("mw:q", 1))

      const executes = seen.filter((s) => s.hook === "execute").map((s) => s.what)
      assert.includeMembers(executes, ["SET mw:a 1", "GET mw:a", "RPUSH mw:q job", "BLPOP mw:q 1"])
      assert.includeMembers(seen.filter((s) => s.hook === "batch").map((s) => s.what), [
        "pipeline: INCR mw:n; GET mw:n",
        "transaction: INCR mw:t; INCR mw:t"
      ])
      const sends = seen.filter((s) => s.hook === "send")
      // Every single command reached the wire hook on this node, blocking
      // ones (on a dedicated connection) included.
      for (const what of ["SET mw:a 1", "GET mw:a", "RPUSH mw:q job", "BLPOP mw:q 1"]) {
        assert.isTrue(sends.some((s) => s.what === what && s.node === node && s.outcome === "ok"), what)
      }
      const batches = seen.filter((s) => s.hook === "sendAll").map((s) => s.what)
      assert.include(batches, "INCR mw:n; GET mw:n")
      assert.include(batches, "MULTI; INCR mw:t; INCR mw:t; EXEC")
    }).pipe(Effect.scoped))

  it.effect("without a middleware the client's connections are the raw ones (nothing wraps them)", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const redis = yield* Standalone.make({ port: server.port }).pipe(Effect.provide(NodeTransport.layer))
      // withConnection hands out the pool's dedicated connection: with no
      // middleware installed it must be a plain Connection, whose `send` is the
      // connection's own function (wrapConnection returns its input).
      const same = yield* redis.withConnection((c) => Effect.succeed(Middleware.wrapConnection(c, undefined) === c))
      assert.isTrue(same)
      assert.deepStrictEqual(yield* redis.ping(), "PONG")
    }).pipe(Effect.scoped))

  it.effect("middlewares from the layer's context apply after the options' ones", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make()
      const order: Array<string> = []
      const tag = (label: string): Middleware.Middleware => ({
        execute: (_command, next) => Effect.suspend(() => {
          order.push(label)
          return next
        })
      })
      const redis = yield* Standalone.make({ port: server.port, middleware: tag("options") }).pipe(
        Effect.provide(Layer.merge(NodeTransport.layer, Middleware.layer(tag("context"))))
      )
      yield* redis.ping()
      assert.deepStrictEqual(order, ["options", "context"])
    }).pipe(Effect.scoped))
})

describe("middleware on a cluster", () => {
  it.layer(RedisCluster.layer())((it) => {
    it.effect("sees each node's leg of a pipeline and a fan-out, and both legs of a MOVED redirect", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisCluster.RedisCluster
        const { middleware, seen } = recorder()
        const { cluster: client, redis } = yield* Cluster.make({
          nodes: [`127.0.0.1:${cluster.startupNodes[0].port}`],
          middleware
        }).pipe(Effect.provide(NodeTransport.layer))
        const primaries = (yield* client.primaries).map((p) => `${p.host}:${p.port}`)

        // A pipeline over keys of three slots owned by three primaries.
        const keys = ["{a}k", "{b}k", "{c}k", "{d}k", "{e}k", "{f}k"]
        yield* redis.pipeline(keys.map((k) => Commands.set(k, "v")))
        const pipelineNodes = new Set(seen.filter((s) => s.hook === "sendAll" || s.hook === "send").map((s) => s.node))
        const owners = new Set(yield* Effect.forEach(keys, (k) => Effect.map(client.nodeFor(k), (n) => `${n.host}:${n.port}`)))
        for (const owner of owners) assert.isTrue(pipelineNodes.has(owner), `pipeline leg on ${owner}`)
        assert.isTrue(seen.some((s) => s.hook === "batch" && s.what.startsWith("pipeline: SET {a}k v")))

        // Fan-out: DBSIZE runs on every primary; each leg is a wire call.
        seen.length = 0
        yield* redis.dbsize()
        const dbsizeNodes = seen.filter((s) => s.hook === "send" && s.what === "DBSIZE").map((s) => s.node)
        assert.sameMembers(dbsizeNodes as Array<string>, primaries)

        // MOVED: the slot is given to another primary behind the client's back.
        const key = "moved:{mw}"
        yield* redis.set(key, "before")
        const slot = yield* cluster.keyslot(key)
        const from = yield* cluster.slotOwner(slot)
        const to = (yield* cluster.primaries).find((p) => p.port !== from.port)!
        yield* cluster.beginMigration({ from, to, slot })
        yield* cluster.migrateKeys({ from, to, slot })
        yield* cluster.finishMigration({ from, to, slot })
        seen.length = 0
        assert.deepStrictEqual(yield* redis.get(key), Option.some("before"))
        const legs = seen.filter((s) => s.hook === "send" && s.what === `GET ${key}`)
        assert.deepStrictEqual(legs.map((s) => [s.node, s.outcome]), [
          [`127.0.0.1:${from.port}`, "Moved"],
          [`127.0.0.1:${to.port}`, "ok"]
        ])
        // The caller's level saw the command once, whatever the wire did.
        assert.strictEqual(seen.filter((s) => s.hook === "execute" && s.what === `GET ${key}`).length, 1)
      }).pipe(Effect.scoped))
  })
})

describe("middleware through Sentinel", () => {
  it.live("sees the commands written to the primary the sentinels name", () =>
    Effect.gen(function*() {
      const group = yield* RedisSentinel.make()
      const { middleware, seen } = recorder()
      const ctx = yield* Layer.build(NodeSentinel.layerMaster({
        sentinels: group.sentinelAddresses,
        masterName: group.masterName,
        middleware
      }))
      const redis = Context.get(ctx, Redis.Redis)
      yield* redis.set("mw:s", "1")
      yield* redis.pipeline([Commands.get("mw:s"), Commands.incr("mw:sn")])
      const primary = yield* Effect.map(group.currentPrimary, (p) => `127.0.0.1:${p.port}`)
      assert.isTrue(seen.some((s) => s.hook === "execute" && s.what === "SET mw:s 1"))
      assert.isTrue(seen.some((s) => s.hook === "send" && s.what === "SET mw:s 1" && s.node === primary && s.outcome === "ok"))
      assert.isTrue(seen.some((s) => s.hook === "sendAll" && s.what === "GET mw:s; INCR mw:sn" && s.node === primary))
    }).pipe(Effect.scoped))
})
