/**
 * `redis-cli --cluster backup`: the RDB of every primary and the cluster's
 * node table, into a folder. Each RDB is read the way `redis-cli --rdb`
 * reads it, over the replication protocol on its own socket (so it works
 * for nodes on other machines, with the connection's credentials and TLS):
 * `AUTH`, `REPLCONF rdb-only 1`, `SYNC`, then the `$<length>\r\n` header
 * (after the newlines the primary sends while it saves) and exactly that
 * many bytes, streamed to `redis-node-<host>-<port>-<id>.rdb`. The table is
 * `nodes.json`: the seed's `CLUSTER NODES`, parsed, each primary with the
 * name of its RDB file.
 *
 * It does not back up replicas (they hold their primary's data), does not
 * announce the `eof` capability (so the primary sends a length-prefixed
 * payload, never a diskless `$EOF:` stream) and restores nothing.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FS from "node:fs/promises"
import * as Path from "node:path"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import { Transport } from "@redis-effect/redis/Transport"
import type { AdminOptions, NodeEntry, OnProgress } from "../ClusterAdmin.ts"
import * as Plan from "./plan.ts"
import * as Progress from "./progress.ts"
import { addressOf, checkFailed, invalid, openSession, parseAddress, type Session, survey } from "./session.ts"
import { jsonReplacer } from "./render.ts"

/** @internal */
export interface BackupOptions extends AdminOptions {
  /** Any node of the cluster. */
  readonly node: string
  /** The folder to write into (created when missing). */
  readonly folder: string
  /** Called after each primary's RDB (unit: nodes). */
  readonly onProgress?: OnProgress | undefined
}

/** @internal */
export interface BackupFile {
  readonly id: string
  readonly address: string
  /** Absolute path of the RDB file. */
  readonly path: string
  readonly bytes: number
}

/** @internal */
export interface BackupResult {
  readonly folder: string
  /** Absolute path of `nodes.json`. */
  readonly nodesFile: string
  readonly files: ReadonlyArray<BackupFile>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const resp = (args: ReadonlyArray<string>): Uint8Array =>
  encoder.encode(`*${args.length}\r\n${args.map((a) => `$${encoder.encode(a).length}\r\n${a}\r\n`).join("")}`)

const failure = (address: string, message: string, tag: "ProtocolError" | "ReplyError" | "ConnectionError" = "ProtocolError") =>
  RedisError.make(
    tag === "ReplyError"
      ? RedisError.classify(message)
      : tag === "ConnectionError"
      ? new RedisError.ConnectionError({ message: `${address}: ${message}`, address })
      : new RedisError.ProtocolError({ message: `${address}: ${message}` }),
    "Unknown",
    "SYNC"
  )

/** Bytes received but not consumed yet, and a way to get more. */
interface Input {
  buffer: Uint8Array
  readonly pull: Effect.Effect<void, RedisError.RedisError>
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** One `\r\n`-terminated line (without it); the bare `\n` keep-alives of a saving primary give "". */
const readLine = (input: Input): Effect.Effect<string, RedisError.RedisError> =>
  Effect.gen(function*() {
    while (true) {
      const nl = input.buffer.indexOf(10)
      if (nl >= 0) {
        const line = decoder.decode(input.buffer.subarray(0, nl)).replace(/\r$/, "")
        input.buffer = input.buffer.subarray(nl + 1)
        return line
      }
      yield* input.pull
    }
  })

/** A reply line that is not an error; `-ERR ...` fails with the server's reason. */
const expectStatus = (input: Input, address: string) =>
  Effect.flatMap(readLine(input), (line) =>
    line.startsWith("-") ? Effect.fail(failure(address, line.slice(1), "ReplyError")) : Effect.succeed(line))

/** Streams `length` bytes from `input` into `file`. */
const copyPayload = (input: Input, file: FS.FileHandle, length: number, address: string) =>
  Effect.gen(function*() {
    let left = length
    while (left > 0) {
      if (input.buffer.length === 0) yield* input.pull
      const chunk = input.buffer.subarray(0, Math.min(left, input.buffer.length))
      input.buffer = input.buffer.subarray(chunk.length)
      left -= chunk.length
      yield* Effect.tryPromise({
        try: () => file.write(chunk),
        catch: (cause) => failure(address, `writing the RDB: ${String(cause)}`, "ConnectionError")
      })
    }
  })

/** The RDB of the primary at `address`, over the replication protocol, into `path`; returns its size. */
const fetchRdb = (session: Session, options: AdminOptions, address: string, path: string) =>
  Effect.scoped(Effect.gen(function*() {
    const parsed = parseAddress(address)
    if (parsed === undefined) return yield* invalid("backup", `invalid node address ${address}`)
    const transport = yield* Transport
    const resolved = yield* RedisConfig.resolve({ ...(options.connection ?? {}), host: parsed.host, port: parsed.port })
    const socket = yield* transport.open({ ...resolved, endpoint: RedisConfig.tcp(parsed.host, parsed.port) })
    const lost = (e: unknown) => failure(address, `replication socket: ${String((e as { message?: unknown }).message ?? e)}`, "ConnectionError")
    const reader = yield* Effect.mapError(socket.reader, lost)
    const writer = yield* socket.writer
    const input: Input = {
      buffer: new Uint8Array(0),
      pull: Effect.mapError(
        Effect.map(reader.pull, (chunks) => {
          for (const c of chunks) input.buffer = concat(input.buffer, typeof c === "string" ? encoder.encode(c) : c)
        }),
        lost
      )
    }
    const send = (args: ReadonlyArray<string>) => Effect.mapError(writer.write(resp(args)), lost)
    // MIGRATE's AUTH arguments are the same credentials: AUTH pw / AUTH2 user pw.
    const auth = yield* session.migrateAuth
    if (auth.length > 0) {
      yield* send(["AUTH", ...auth.slice(1)])
      yield* expectStatus(input, address)
    }
    // Only the snapshot: the primary does not keep a replication stream for us.
    yield* send(["REPLCONF", "rdb-only", "1"])
    yield* expectStatus(input, address)
    yield* send(["SYNC"])
    let header = ""
    while (header === "") header = yield* expectStatus(input, address)
    const length = /^\$(\d+)$/.exec(header)
    if (length === null) return yield* Effect.fail(failure(address, `unexpected SYNC reply ${JSON.stringify(header.slice(0, 60))}`))
    const size = Number(length[1])
    const file = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => FS.open(path, "w"), catch: (cause) => failure(address, `opening ${path}: ${String(cause)}`, "ConnectionError") }),
      (f) => Effect.promise(() => f.close())
    )
    yield* copyPayload(input, file, size, address)
    return size
  }))

const safe = (text: string) => text.replace(/[^A-Za-z0-9_.-]/g, "_")

/** @internal */
export const backup = (options: BackupOptions): Effect.Effect<BackupResult, RedisError.RedisError, Transport> =>
  Effect.scoped(Effect.gen(function*() {
    const op = "backup"
    const session = yield* openSession(options)
    const { report } = yield* survey(session, options.node)
    if (!report.ok) return yield* checkFailed(op, report)
    const folder = Path.resolve(options.folder)
    yield* Effect.tryPromise({
      try: () => FS.mkdir(folder, { recursive: true }),
      catch: (cause) => RedisError.invalidArgument(`${op}: cannot create ${folder}: ${String(cause)}`)
    })
    const primaries = report.nodes.filter((e) => e.role === "primary" && Plan.countSlots(e.slots) > 0)
    const progress = yield* Progress.tracker(op, "nodes", primaries.length, options.onProgress)
    const timeout = Duration.fromInputUnsafe(options.timeout ?? session.timeout)
    const files = yield* Effect.forEach(primaries, (p) =>
      Effect.gen(function*() {
        const address = addressOf(p, report.seed)
        const path = Path.join(folder, `redis-node-${safe(p.host === "" ? address : p.host)}-${p.port}-${p.id}.rdb`)
        const bytes = yield* Effect.timeoutOrElse(fetchRdb(session, options, address, path), {
          duration: timeout,
          orElse: () =>
            Effect.fail(RedisError.make(
              new RedisError.Timeout({ message: `${op}: ${address}: no RDB within ${Duration.toMillis(timeout)} ms`, millis: Duration.toMillis(timeout) }),
              "Unknown",
              "SYNC"
            ))
        })
        yield* progress.step(1, 0, `${address}: ${bytes} bytes`)
        return { id: p.id, address, path, bytes } satisfies BackupFile
      }), { concurrency: 1 })
    const nodesFile = Path.join(folder, "nodes.json")
    const table = report.nodes.map((e: NodeEntry) => ({ ...e, rdb: files.find((f) => f.id === e.id)?.path }))
    yield* Effect.tryPromise({
      try: () => FS.writeFile(nodesFile, JSON.stringify(table, jsonReplacer, 2)),
      catch: (cause) => RedisError.invalidArgument(`${op}: cannot write ${nodesFile}: ${String(cause)}`)
    })
    return { folder, nodesFile, files }
  }))
