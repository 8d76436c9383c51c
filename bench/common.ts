/**
 * What the benchmark orchestrator (`run.ts`), the per-measurement worker
 * (`worker.ts`) and the profiler (`profile.ts`) share: scenario shapes, the
 * key space, argument parsing and a tiny raw RESP client used for preloading
 * and for reading the server's `INFO cpu` outside the timed window (so the
 * client under test never pays for it).
 */
import * as Net from "node:net"

// -----------------------------------------------------------------------------
// scenarios
// -----------------------------------------------------------------------------

export const clients = ["redis-effect", "ioredis", "ioredis-autopipelining", "node-redis"] as const
/**
 * `node-net`, a reference rather than a client: one raw `net.Socket` that
 * writes a GET and awaits its reply with a promise, for the sequential
 * scenarios only. It is the floor of any promise-based Node client: what is
 * left between it and `redis-benchmark -c 1` is Node's event loop, not a
 * client's code.
 */
export type ClientName = (typeof clients)[number] | "node-net"

export interface Scenario {
  readonly name: string
  /** Operations per measurement in the full run and in `--quick`. */
  readonly ops: number
  readonly quickOps: number
  /** Operations run before the timed window, in the same process, to warm the JIT. */
  readonly warmup: number
  /** Commands in flight (1 = sequential); for `pipeline-set`, the batch size. */
  readonly inFlight: number
  readonly batch?: number
  /**
   * The value's size in bytes for the large-value scenarios (`large-get`,
   * `large-set` and their 1 MB variants); the others use {@link SMALL_VALUE}.
   */
  readonly valueBytes?: number
  /**
   * For the cluster scenarios: 3 = three primaries, 6 = three primaries with
   * one replica each. Reads go to primaries (every client's default).
   */
  readonly cluster?: 3 | 6
  /**
   * Measurements per client per round (default 1). Round-trip latency on this
   * VM is bimodal per process (p50 ~30 us with ms stalls, or a steady ~100
   * us, for every client and for redis-benchmark alike), so one sample per
   * round makes the median a coin toss; the latency scenario takes three.
   */
  readonly passesPerRound?: number
  readonly description: string
}

export const IN_FLIGHT = 100
export const BATCH = 1000

export const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "sequential-get",
    ops: 20_000,
    quickOps: 10_000,
    warmup: 3_000,
    inFlight: 1,
    passesPerRound: 3,
    description: "GET of 32 B, one in flight; p50/p99 per command"
  },
  {
    name: "sequential-get-promise",
    ops: 20_000,
    quickOps: 10_000,
    warmup: 3_000,
    inFlight: 1,
    passesPerRound: 3,
    description: "GET of 32 B, one in flight, each its own runPromise as an HTTP handler calls it; p50/p99 per command"
  },
  {
    name: "concurrent-set",
    ops: 200_000,
    quickOps: 60_000,
    warmup: 30_000,
    inFlight: IN_FLIGHT,
    description: "SET of 32 B, 100 in flight on one client"
  },
  {
    name: "concurrent-get",
    ops: 200_000,
    quickOps: 60_000,
    warmup: 30_000,
    inFlight: IN_FLIGHT,
    description: "GET of 32 B, 100 in flight on one client"
  },
  {
    name: "pipeline-set",
    ops: 200_000,
    quickOps: 60_000,
    warmup: 30_000,
    inFlight: BATCH,
    batch: BATCH,
    description: "SET of 32 B in explicit pipelines of 1000, one pipeline at a time"
  },
  {
    name: "large-get",
    ops: 20_000,
    quickOps: 5_000,
    warmup: 2_000,
    inFlight: IN_FLIGHT,
    valueBytes: 100 * 1024,
    description: "GET of 100 KB values, 100 in flight"
  },
  {
    name: "large-get-1mb",
    ops: 3_000,
    quickOps: 1_000,
    warmup: 500,
    inFlight: IN_FLIGHT,
    valueBytes: 1024 * 1024,
    description: "GET of 1 MB values, 100 in flight"
  },
  {
    name: "large-set",
    ops: 20_000,
    quickOps: 5_000,
    warmup: 2_000,
    inFlight: IN_FLIGHT,
    valueBytes: 100 * 1024,
    description: "SET of 100 KB string values, 100 in flight"
  },
  {
    name: "large-set-1mb",
    ops: 3_000,
    quickOps: 1_000,
    warmup: 500,
    inFlight: IN_FLIGHT,
    valueBytes: 1024 * 1024,
    description: "SET of 1 MB string values, 100 in flight"
  },
  {
    name: "pubsub",
    ops: 200_000,
    quickOps: 60_000,
    warmup: 20_000,
    inFlight: IN_FLIGHT,
    description: "32 B messages from one publisher (100 PUBLISH in flight) to one subscriber, counted on arrival"
  },
  {
    name: "cluster-concurrent-set",
    ops: 200_000,
    quickOps: 30_000,
    warmup: 30_000,
    inFlight: IN_FLIGHT,
    cluster: 3,
    description: "SET of 32 B, 100 in flight on one cluster client, keys over all slots (3 primaries)"
  },
  {
    name: "cluster-concurrent-get",
    ops: 200_000,
    quickOps: 30_000,
    warmup: 30_000,
    inFlight: IN_FLIGHT,
    cluster: 3,
    description: "GET of 32 B, 100 in flight on one cluster client, keys over all slots (3 primaries)"
  },
  {
    name: "cluster6-concurrent-set",
    ops: 200_000,
    quickOps: 30_000,
    warmup: 30_000,
    inFlight: IN_FLIGHT,
    cluster: 6,
    description: "SET of 32 B, 100 in flight, 3 primaries + 3 replicas (writes are replicated)"
  },
  {
    name: "cluster6-concurrent-get",
    ops: 200_000,
    quickOps: 30_000,
    warmup: 30_000,
    inFlight: IN_FLIGHT,
    cluster: 6,
    description: "GET of 32 B, 100 in flight, 3 primaries + 3 replicas (reads from primaries)"
  }
]

/**
 * The shape a scenario runs: the cluster scenarios run the standalone
 * `concurrent-set` / `concurrent-get` bodies against a cluster client, and
 * the 1 MB variants the `large-get` / `large-set` bodies with larger values.
 */
export const shapeOf = (s: Scenario): string => s.name.replace(/^cluster6?-/, "").replace(/-1mb$/, "")

export const scenarioNamed = (name: string): Scenario => {
  const s = scenarios.find((s) => s.name === name)
  if (s === undefined) throw new Error(`unknown scenario ${name}; one of ${scenarios.map((s) => s.name).join(", ")}`)
  return s
}

// -----------------------------------------------------------------------------
// key space
// -----------------------------------------------------------------------------

export const SMALL_KEYS = 10_000
export const LARGE_KEYS = 100
export const SMALL_VALUE = "v".repeat(32)
export const LARGE_VALUE = "x".repeat(100 * 1024)
/** The 1 MB value of `large-get-1mb` and `large-set-1mb`. */
export const HUGE_VALUE = "y".repeat(1024 * 1024)
export const CHANNEL = "bench:channel"
export const smallKeys: ReadonlyArray<string> = Array.from({ length: SMALL_KEYS }, (_, i) => `bench:k:${i}`)
export const largeKeys: ReadonlyArray<string> = Array.from({ length: LARGE_KEYS }, (_, i) => `bench:large:${i}`)
/**
 * The keys `large-get-1mb` reads (100 MB of values would only cost the
 * server memory: 20 keys already hold more than the 100 in flight need).
 */
export const HUGE_KEYS = 20
export const hugeKeys: ReadonlyArray<string> = Array.from({ length: HUGE_KEYS }, (_, i) => `bench:huge:${i}`)
/**
 * The keys the large SET scenarios write, apart from the ones the GET
 * scenarios read (so a SET run never changes what a later GET run checks);
 * as many as there are commands in flight, so every SET of one batch writes
 * its own key.
 */
export const largeSetKeys: ReadonlyArray<string> = Array.from({ length: LARGE_KEYS }, (_, i) => `bench:lset:${i}`)

/** The key space and value of a large-value scenario (`large-get`, `large-set-1mb`, ...). */
export const largeSpace = (s: Scenario): { readonly keys: ReadonlyArray<string>; readonly value: string } => {
  const huge = s.valueBytes === HUGE_VALUE.length
  if (s.name.includes("large-set")) return { keys: largeSetKeys, value: huge ? HUGE_VALUE : LARGE_VALUE }
  return huge ? { keys: hugeKeys, value: HUGE_VALUE } : { keys: largeKeys, value: LARGE_VALUE }
}

// -----------------------------------------------------------------------------
// arguments
// -----------------------------------------------------------------------------

/** `--name value` and bare `--flag` (value "true"). */
export const parseArgs = (argv: ReadonlyArray<string>): Map<string, string> => {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith("--")) continue
    const eq = a.indexOf("=")
    if (eq > 0) {
      out.set(a.slice(2, eq), a.slice(eq + 1))
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      out.set(a.slice(2), argv[++i])
    } else {
      out.set(a.slice(2), "true")
    }
  }
  return out
}

// -----------------------------------------------------------------------------
// a raw RESP client (setup and INFO only, never timed)
// -----------------------------------------------------------------------------

const encode = (args: ReadonlyArray<string>): string => {
  let s = `*${args.length}\r\n`
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return s
}

/**
 * Ends of complete top-level replies in `buf` from `start` (simple strings,
 * errors, integers, bulk strings and flat arrays of those), or -1.
 */
const replyEnd = (buf: Buffer, start: number): number => {
  if (start >= buf.length) return -1
  const lineEnd = buf.indexOf("\r\n", start)
  if (lineEnd < 0) return -1
  const type = buf[start]
  if (type === 0x2b || type === 0x2d || type === 0x3a) return lineEnd + 2
  const n = Number(buf.toString("latin1", start + 1, lineEnd))
  if (type === 0x24) {
    if (n < 0) return lineEnd + 2
    const end = lineEnd + 2 + n + 2
    return end <= buf.length ? end : -1
  }
  if (type === 0x2a) {
    let at = lineEnd + 2
    for (let i = 0; i < n; i++) {
      at = replyEnd(buf, at)
      if (at < 0) return -1
    }
    return at
  }
  throw new Error(`unexpected RESP type ${String.fromCharCode(type)}`)
}

/** Sends all commands at once on a fresh connection and returns the raw replies. */
export const rawCommands = (port: number, commands: ReadonlyArray<ReadonlyArray<string>>): Promise<Array<Buffer>> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    const replies: Array<Buffer> = []
    let buf: Buffer = Buffer.alloc(0)
    socket.on("error", reject)
    socket.on("connect", () => {
      // Chunks of 1000 commands keep memory flat when preloading large values.
      for (let i = 0; i < commands.length; i += 1000) {
        socket.write(commands.slice(i, i + 1000).map(encode).join(""))
      }
    })
    socket.on("data", (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      let at = 0
      for (;;) {
        const end = replyEnd(buf, at)
        if (end < 0) break
        replies.push(buf.subarray(at, end))
        at = end
      }
      buf = buf.subarray(at)
      if (replies.length === commands.length) {
        socket.end()
        const error = replies.find((r) => r[0] === 0x2d)
        if (error !== undefined) reject(new Error(error.toString()))
        else resolve(replies)
      }
    })
  })

/** The server's process CPU (user + sys), in microseconds; summed over all `ports` (cluster nodes). */
export const serverCpuMicros = async (ports: number | ReadonlyArray<number>): Promise<number> => {
  let total = 0
  for (const port of typeof ports === "number" ? [ports] : ports) {
    const [reply] = await rawCommands(port, [["INFO", "cpu"]])
    const text = reply.toString()
    const field = (name: string) => Number(new RegExp(`(?:^|\\n)${name}:([0-9.]+)`).exec(text)?.[1] ?? NaN)
    total += Math.round((field("used_cpu_user") + field("used_cpu_sys")) * 1e6)
  }
  return total
}

/** Writes the key space the GET scenarios read. */
export const preload = async (port: number): Promise<void> => {
  await rawCommands(port, smallKeys.map((k) => ["SET", k, SMALL_VALUE]))
  await rawCommands(port, largeKeys.map((k) => ["SET", k, LARGE_VALUE]))
  await rawCommands(port, hugeKeys.map((k) => ["SET", k, HUGE_VALUE]))
}

/** The body of a bulk-string reply (`$n CRLF body CRLF`). */
const bulkText = (reply: Buffer): string => {
  const lineEnd = reply.indexOf("\r\n")
  return reply.toString("utf8", lineEnd + 2, reply.length - 2)
}

/**
 * Writes the small key space into a cluster, each key on the primary that
 * owns its slot (`CLUSTER KEYSLOT` and `CLUSTER NODES` over the raw client, so
 * the setup does not depend on any client under test). Returns the number of
 * keys per primary port.
 */
export const preloadCluster = async (seedPort: number): Promise<Map<number, number>> => {
  const [nodes] = await rawCommands(seedPort, [["CLUSTER", "NODES"]])
  const owner = new Int32Array(16384).fill(-1)
  for (const line of bulkText(nodes).trim().split("\n")) {
    const fields = line.trim().split(" ")
    if (!fields[2].split(",").includes("master")) continue
    const port = Number(fields[1].split("@")[0].split(":").at(-1))
    for (const range of fields.slice(8)) {
      if (range.startsWith("[")) continue
      const [a, b] = range.split("-").map(Number)
      for (let slot = a; slot <= (b ?? a); slot++) owner[slot] = port
    }
  }
  const slots = await rawCommands(seedPort, smallKeys.map((k) => ["CLUSTER", "KEYSLOT", k]))
  const byPort = new Map<number, Array<string>>()
  smallKeys.forEach((k, i) => {
    const port = owner[Number(slots[i].toString("latin1", 1, slots[i].length - 2))]
    if (port < 0) throw new Error(`no primary owns the slot of ${k}`)
    if (!byPort.has(port)) byPort.set(port, [])
    byPort.get(port)!.push(k)
  })
  for (const [port, keys] of byPort) await rawCommands(port, keys.map((k) => ["SET", k, SMALL_VALUE]))
  return new Map([...byPort].map(([port, keys]) => [port, keys.length]))
}

// -----------------------------------------------------------------------------
// statistics
// -----------------------------------------------------------------------------

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** The q-quantile (0..1) of a sample, nearest rank. */
export const quantile = (sorted: ArrayLike<number>, q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]

/** What a worker prints as its last stdout line. */
export interface WorkerResult {
  readonly client: string
  readonly scenario: string
  readonly ops: number
  readonly elapsedMs: number
  readonly opsPerSec: number
  readonly p50us?: number
  readonly p99us?: number
  /** The client process' CPU during the timed window, user + sys, microseconds. */
  readonly clientCpuUs: number
  /** The server's CPU during the timed window, user + sys, microseconds. */
  readonly serverCpuUs: number
  /** The timed window on the monotonic clock (µs), as in V8 CPU profiles. */
  readonly window?: readonly [number, number]
}
