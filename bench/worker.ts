/**
 * One client measurement, in a process of its own:
 *
 *     node bench/worker.ts --client redis-effect --scenario concurrent-get --ops 200000 --port 6379
 *     node bench/worker.ts --client ioredis --scenario cluster-concurrent-get --nodes 7000,7001,7002
 *
 * The cluster scenarios take `--nodes` (every node's port: the startup nodes
 * of the cluster clients, and the servers whose CPU is counted) instead of
 * `--port`.
 *
 * Expects the key space of `common.ts` to be loaded (`run.ts` does it). Runs
 * `--warmup` operations (default: the scenario's) of the same shape first,
 * then the timed window, and prints one JSON line (`WorkerResult`). The
 * window also records this process' CPU (`process.cpuUsage`) and the server's
 * (`INFO cpu` over a separate raw connection, outside the window).
 *
 * `window` in the output is the timed window on the monotonic clock, in
 * microseconds: the clock of V8 CPU profiles (`node --cpu-prof`), so
 * `profile.ts` can keep the samples of the window only.
 */
import * as Commands from "@redis-effect/redis/Commands"
import * as Redis from "@redis-effect/redis/Redis"
import { NodeClient, NodeCluster } from "@redis-effect/node"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { Cluster as IORedisCluster, Redis as IORedis } from "ioredis"
import * as Net from "node:net"
import { createClient, createCluster } from "redis"
import {
  type ClientName,
  clients,
  CHANNEL,
  largeSpace,
  parseArgs,
  quantile,
  scenarioNamed,
  serverCpuMicros,
  shapeOf,
  SMALL_KEYS,
  SMALL_VALUE,
  smallKeys,
  type WorkerResult
} from "./common.ts"

const args = parseArgs(process.argv.slice(2))
const clientName = args.get("client") as ClientName
if (!(clients as ReadonlyArray<string>).includes(clientName) && clientName !== "node-net") {
  throw new Error(`--client must be one of ${clients.join(", ")}, node-net`)
}
const scenario = scenarioNamed(args.get("scenario") ?? "")
const ops = Number(args.get("ops") ?? scenario.ops)
const warmupOps = Number(args.get("warmup") ?? scenario.warmup)
const port = Number(args.get("port") ?? 6379)
const host = "127.0.0.1"
/** The cluster nodes' ports (cluster scenarios only). */
const nodePorts: ReadonlyArray<number> = (args.get("nodes") ?? "").split(",").filter((p) => p !== "").map(Number)
if (scenario.cluster !== undefined && nodePorts.length === 0) throw new Error(`${scenario.name} needs --nodes`)
const serverPorts: ReadonlyArray<number> = scenario.cluster !== undefined ? nodePorts : [port]
/** The body to run: `concurrent-get` for `cluster-concurrent-get`, etc. */
const shape = shapeOf(scenario)
const batch = scenario.batch ?? 1000
/** The key space and value of the large-value scenarios (unused by the others). */
const large = largeSpace(scenario)
const largeKeyCount = large.keys.length
if (scenario.name === "pipeline-set" && (ops % batch !== 0 || warmupOps % batch !== 0)) {
  throw new Error(`pipeline-set needs --ops and --warmup in multiples of ${batch}`)
}

// -----------------------------------------------------------------------------
// the timed window
// -----------------------------------------------------------------------------

/** Per-command latencies (ms) of the timed window, for `sequential-get` and `sequential-get-promise`. */
const latencies = shape.startsWith("sequential-get") ? new Float64Array(ops) : undefined

let windowStartUs = 0n
let t0 = 0
let cpu0: NodeJS.CpuUsage = { user: 0, system: 0 }
let server0 = 0
let result: WorkerResult | undefined

const windowStart = async (): Promise<void> => {
  server0 = await serverCpuMicros(serverPorts)
  cpu0 = process.cpuUsage()
  windowStartUs = process.hrtime.bigint() / 1000n
  t0 = performance.now()
}

const windowStop = async (): Promise<void> => {
  const elapsedMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const windowEndUs = process.hrtime.bigint() / 1000n
  const serverCpuUs = (await serverCpuMicros(serverPorts)) - server0
  let p50us: number | undefined
  let p99us: number | undefined
  if (latencies !== undefined) {
    const sorted = Float64Array.from(latencies).sort()
    p50us = Math.round(quantile(sorted, 0.5) * 1000 * 10) / 10
    p99us = Math.round(quantile(sorted, 0.99) * 1000 * 10) / 10
  }
  result = {
    client: clientName,
    scenario: scenario.name,
    ops,
    elapsedMs: Math.round(elapsedMs * 100) / 100,
    opsPerSec: Math.round(ops / (elapsedMs / 1000)),
    ...(p50us === undefined ? {} : { p50us, p99us: p99us! }),
    clientCpuUs: cpu.user + cpu.system,
    serverCpuUs,
    window: [Number(windowStartUs), Number(windowEndUs)]
  }
}

/** The GET scenarios must read the preloaded values, not nils; the SET ones what they wrote. */
const checkValue = (value: unknown): void => {
  const expected = scenario.valueBytes === undefined ? SMALL_VALUE : large.value
  if (value !== expected) {
    throw new Error(
      `${clientName}: GET read ${String(value).slice(0, 40)} (${String(value).length} characters); is the key space loaded?`
    )
  }
}

/** The key a scenario's check reads back. */
const checkKey = scenario.valueBytes === undefined ? smallKeys[0] : large.keys[0]

const indices = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/**
 * `n` GETs one at a time through a promise-returning `get`; with `timed`,
 * each one's latency goes to `latencies` (the one-at-a-time scenarios of
 * the peers, of `node-net` and of redis-effect's `sequential-get-promise`).
 */
const oneAtATime = async (n: number, timed: boolean, get: (key: string) => Promise<unknown>): Promise<void> => {
  for (let i = 0; i < n; i++) {
    if (!timed) {
      await get(smallKeys[i % SMALL_KEYS])
      continue
    }
    const start = performance.now()
    await get(smallKeys[i % SMALL_KEYS])
    latencies![i] = performance.now() - start
  }
}

// -----------------------------------------------------------------------------
// redis-effect: driven as an Effect user would, inside one runtime
// -----------------------------------------------------------------------------

const runRedisEffect = (): Promise<void> => {
  const program = Effect.gen(function*() {
    const redis = yield* Redis.Redis

    const body = (n: number, timed: boolean): Effect.Effect<void, unknown> => {
      const range = indices(n)
      switch (shape) {
        case "sequential-get":
          return timed
            ? Effect.forEach(range, (i) =>
              Effect.suspend(() => {
                const start = performance.now()
                return Effect.map(redis.get(smallKeys[i % SMALL_KEYS]), () => {
                  latencies![i] = performance.now() - start
                })
              }), { discard: true })
            : Effect.forEach(range, (i) => redis.get(smallKeys[i % SMALL_KEYS]), { discard: true })
        case "concurrent-set":
          return Effect.forEach(range, (i) => redis.set(smallKeys[i % SMALL_KEYS], SMALL_VALUE), {
            concurrency: 100,
            discard: true
          })
        case "concurrent-get":
          return Effect.forEach(range, (i) => redis.get(smallKeys[i % SMALL_KEYS]), {
            concurrency: 100,
            discard: true
          })
        case "pipeline-set":
          return Effect.forEach(indices(n / batch), (b) =>
            redis.pipeline(
              Array.from({ length: batch }, (_, j) => Commands.set(smallKeys[(b * batch + j) % SMALL_KEYS], SMALL_VALUE))
            ), { discard: true })
        case "large-get":
          return Effect.forEach(range, (i) => redis.get(large.keys[i % largeKeyCount]), {
            concurrency: 100,
            discard: true
          })
        case "large-set":
          return Effect.forEach(range, (i) => redis.set(large.keys[i % largeKeyCount], large.value), {
            concurrency: 100,
            discard: true
          })
        default:
          return Effect.die(`no body for ${scenario.name}`)
      }
    }

    if (scenario.name === "pubsub") {
      // Count arrivals; `target` resolves `arrived` when the count reaches it.
      let received = 0
      let target = Infinity
      let arrived: () => void = () => {}
      yield* redis.subscribe(CHANNEL).pipe(
        Stream.runForEach(() =>
          Effect.sync(() => {
            if (++received === target) arrived()
          })
        ),
        Effect.forkScoped
      )
      const waitFor = (n: number) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            if (received >= n) return resolve()
            target = n
            arrived = resolve
          })
        )
      // Publish until the subscriber is there (PUBLISH returns 1), then warm up.
      let receivers = 0
      while (receivers === 0) receivers = yield* redis.publish(CHANNEL, SMALL_VALUE)
      yield* waitFor(1)
      const publishAll = (n: number) =>
        Effect.forEach(indices(n), () => redis.publish(CHANNEL, SMALL_VALUE), { concurrency: 100, discard: true })
      yield* publishAll(warmupOps)
      yield* waitFor(1 + warmupOps)
      const timed = publishAll(ops) // built before the window: no index array inside it
      yield* Effect.promise(windowStart)
      yield* timed
      yield* waitFor(1 + warmupOps + ops)
      yield* Effect.promise(windowStop)
      return
    }

    yield* body(warmupOps, false)
    if (shape.endsWith("get") || shape === "large-set") {
      const value = yield* redis.get(checkKey)
      checkValue(value._tag === "Some" ? value.value : null)
    }
    const timed = body(ops, true) // built before the window: no index array inside it
    yield* Effect.promise(windowStart)
    yield* timed
    yield* Effect.promise(windowStop)
  })
  // The cluster scenarios provide the same `Redis` service, routed over the
  // cluster (reads from primaries: the default `readFrom`).
  const layer = scenario.cluster !== undefined
    ? NodeCluster.layer({ nodes: nodePorts.map((p) => `${host}:${p}`) })
    : NodeClient.layer({ host, port })
  if (shape === "sequential-get-promise") return runRedisEffectPromise(layer)
  return Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer)))
}

// As a web application calls it: the layer built once in a `ManagedRuntime`,
// then each request a program of its own (`yield* Redis`, one GET) run by
// `runPromise` from plain async code.
const runRedisEffectPromise = async (layer: Layer.Layer<Redis.Redis, unknown>): Promise<void> => {
  const runtime = ManagedRuntime.make(layer)
  const handler = (key: string) =>
    runtime.runPromise(Effect.gen(function*() {
      const redis = yield* Redis.Redis
      return yield* redis.get(key)
    }))
  try {
    await oneAtATime(warmupOps, false, handler)
    const value = await handler(checkKey)
    checkValue(value._tag === "Some" ? value.value : null)
    await windowStart()
    await oneAtATime(ops, true, handler)
    await windowStop()
  } finally {
    await runtime.dispose()
  }
}

// -----------------------------------------------------------------------------
// the peers: driven as their users would, with promises
// -----------------------------------------------------------------------------

interface PromiseClient {
  readonly get: (key: string) => Promise<unknown>
  readonly set: (key: string, value: string) => Promise<unknown>
  readonly pipelineSet: (keys: ReadonlyArray<string>, value: string) => Promise<unknown>
  readonly publish: (channel: string, message: string) => Promise<number>
  /** A second connection subscribed to `channel`, calling `onMessage` per message. */
  readonly subscriber: (channel: string, onMessage: () => void) => Promise<void>
  readonly close: () => Promise<void>
}

const ioredisClient = async (autoPipelining: boolean): Promise<PromiseClient> => {
  const options = { host, port, enableAutoPipelining: autoPipelining }
  const client = new IORedis(options)
  const subscribers: Array<IORedis> = []
  await client.ping()
  return {
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    pipelineSet: (keys, value) => {
      const p = client.pipeline()
      for (const k of keys) p.set(k, value)
      return p.exec()
    },
    publish: (channel, message) => client.publish(channel, message),
    subscriber: async (channel, onMessage) => {
      const sub = new IORedis(options)
      subscribers.push(sub)
      sub.on("message", onMessage)
      await sub.subscribe(channel)
    },
    close: async () => {
      client.disconnect()
      for (const s of subscribers) s.disconnect()
    }
  }
}

const nodeRedisClient = async (): Promise<PromiseClient> => {
  const client = createClient({ socket: { host, port } })
  client.on("error", (e) => console.error("node-redis:", e))
  await client.connect()
  const subscribers: Array<typeof client> = []
  return {
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    pipelineSet: (keys, value) => {
      const m = client.multi()
      for (const k of keys) m.set(k, value)
      return m.execAsPipeline()
    },
    publish: (channel, message) => client.publish(channel, message),
    subscriber: async (channel, onMessage) => {
      const sub = client.duplicate()
      subscribers.push(sub)
      await sub.connect()
      await sub.subscribe(channel, onMessage)
    },
    close: async () => {
      client.destroy()
      for (const s of subscribers) s.destroy()
    }
  }
}

const noCluster = (what: string) => (): never => {
  throw new Error(`${what} is not part of the cluster scenarios`)
}

/** ioredis' cluster client, with its defaults (reads from primaries: `scaleReads: "master"`). */
const ioredisClusterClient = async (autoPipelining: boolean): Promise<PromiseClient> => {
  const client = new IORedisCluster(nodePorts.map((p) => ({ host, port: p })), { enableAutoPipelining: autoPipelining })
  await new Promise<void>((resolve, reject) => {
    client.once("ready", resolve)
    client.once("error", reject)
  })
  return {
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    pipelineSet: noCluster("pipelineSet"),
    publish: noCluster("publish"),
    subscriber: noCluster("subscriber"),
    close: async () => {
      client.disconnect()
    }
  }
}

/** node-redis' cluster client, with its defaults (reads from primaries: `useReplicas: false`). */
const nodeRedisClusterClient = async (): Promise<PromiseClient> => {
  const client = createCluster({ rootNodes: nodePorts.map((p) => ({ socket: { host, port: p } })) })
  client.on("error", (e) => console.error("node-redis cluster:", e))
  await client.connect()
  return {
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    pipelineSet: noCluster("pipelineSet"),
    publish: noCluster("publish"),
    subscriber: noCluster("subscriber"),
    close: async () => {
      client.destroy()
    }
  }
}

/** `n` calls of `f`, `concurrency` at a time: a pool of async loops. */
const pool = async (n: number, concurrency: number, f: (i: number) => Promise<unknown>): Promise<void> => {
  let next = 0
  const loop = async () => {
    for (let i = next++; i < n; i = next++) await f(i)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, loop))
}

const runPeer = async (client: PromiseClient): Promise<void> => {
  const body = async (n: number, timed: boolean): Promise<void> => {
    switch (shape) {
      // The peers' calls are promises either way.
      case "sequential-get":
      case "sequential-get-promise":
        return oneAtATime(n, timed, client.get)
      case "concurrent-set":
        return pool(n, 100, (i) => client.set(smallKeys[i % SMALL_KEYS], SMALL_VALUE))
      case "concurrent-get":
        return pool(n, 100, (i) => client.get(smallKeys[i % SMALL_KEYS]))
      case "pipeline-set":
        for (let b = 0; b < n / batch; b++) {
          const keys = Array.from({ length: batch }, (_, j) => smallKeys[(b * batch + j) % SMALL_KEYS])
          await client.pipelineSet(keys, SMALL_VALUE)
        }
        return
      case "large-get":
        return pool(n, 100, (i) => client.get(large.keys[i % largeKeyCount]))
      case "large-set":
        return pool(n, 100, (i) => client.set(large.keys[i % largeKeyCount], large.value))
      default:
        throw new Error(`no body for ${scenario.name}`)
    }
  }

  if (scenario.name === "pubsub") {
    let received = 0
    let target = Infinity
    let arrived: () => void = () => {}
    await client.subscriber(CHANNEL, () => {
      if (++received === target) arrived()
    })
    const waitFor = (n: number) =>
      new Promise<void>((resolve) => {
        if (received >= n) return resolve()
        target = n
        arrived = resolve
      })
    let receivers = 0
    while (receivers === 0) receivers = await client.publish(CHANNEL, SMALL_VALUE)
    await waitFor(1)
    await pool(warmupOps, 100, () => client.publish(CHANNEL, SMALL_VALUE))
    await waitFor(1 + warmupOps)
    await windowStart()
    await pool(ops, 100, () => client.publish(CHANNEL, SMALL_VALUE))
    await waitFor(1 + warmupOps + ops)
    await windowStop()
  } else {
    await body(warmupOps, false)
    if (shape.endsWith("get") || shape === "large-set") checkValue(await client.get(checkKey))
    await windowStart()
    await body(ops, true)
    await windowStop()
  }
  await client.close()
}

// -----------------------------------------------------------------------------
// node-net: the floor of a promise-based Node client
// -----------------------------------------------------------------------------

// One raw socket, one GET at a time: write the command, resolve a promise
// once the whole reply (`$32\r\n` + value + `\r\n`) has arrived. No parser,
// no queue, no client: only Node's socket and event loop.
const runNodeNet = async (): Promise<void> => {
  if (!shape.startsWith("sequential-get")) throw new Error("node-net runs the sequential scenarios only")
  const socket = Net.createConnection({ host, port, noDelay: true })
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  const replyBytes = `$${SMALL_VALUE.length}\r\n${SMALL_VALUE}\r\n`.length
  let received: Array<Buffer> = []
  let size = 0
  let done: (reply: string) => void = () => {}
  socket.on("data", (chunk: Buffer) => {
    received.push(chunk)
    size += chunk.length
    if (size < replyBytes) return
    const reply = Buffer.concat(received).toString("latin1")
    received = []
    size = 0
    done(reply)
  })
  const get = (key: string) =>
    new Promise<string>((resolve) => {
      done = resolve
      socket.write(`*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`)
    })
  await oneAtATime(warmupOps, false, get)
  checkValue((await get(checkKey)).slice(`$${SMALL_VALUE.length}\r\n`.length, -2))
  await windowStart()
  await oneAtATime(ops, true, get)
  await windowStop()
  socket.destroy()
}

// -----------------------------------------------------------------------------

switch (clientName) {
  case "node-net":
    await runNodeNet()
    break
  case "redis-effect":
    await runRedisEffect()
    break
  case "ioredis":
    await runPeer(scenario.cluster !== undefined ? await ioredisClusterClient(false) : await ioredisClient(false))
    break
  case "ioredis-autopipelining":
    await runPeer(scenario.cluster !== undefined ? await ioredisClusterClient(true) : await ioredisClient(true))
    break
  case "node-redis":
    await runPeer(scenario.cluster !== undefined ? await nodeRedisClusterClient() : await nodeRedisClient())
    break
}
if (result === undefined) throw new Error("the timed window never closed")
console.log(JSON.stringify(result))
process.exit(0)
