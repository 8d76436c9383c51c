/**
 * Server commands: PING, ECHO, TIME, INFO, CONFIG, COMMAND, persistence
 * (SAVE, BGSAVE, ...), replication (ROLE, REPLICAOF, FAILOVER, WAIT,
 * WAITAOF), diagnostics (SLOWLOG, LATENCY, MEMORY USAGE, DEBUG SLEEP,
 * MONITOR), FLUSHDB/FLUSHALL, SWAPDB, SHUTDOWN and ACL.
 *
 * Every function builds a `Command` value; nothing here sends anything.
 * The pure parser of the INFO text, `parseInfo`, is in `parsers.ts`.
 *
 * **Routing.** Keyless commands that any node may answer are `NO_KEYS`.
 * WAIT and WAITAOF are not: they are about the writes of the connection
 * that sends them, so they must follow those writes. They are therefore
 * *not* `BLOCKING` (a dedicated connection has written nothing, so WAIT
 * there would count nothing useful): they go on the shared connection,
 * behind the caller's writes, and take a timeout of at least 1 ms so the
 * shared connection is held for a bounded time. Commands that reconfigure
 * every node (FLUSHALL, FLUSHDB, CONFIG SET, CONFIG RESETSTAT) are
 * `ALL_NODES`.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import { Flags, invalid, Reply, UnexpectedReply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { checkArgs, checkInteger, checkNumber, ignore, rawRecord, stringArray, stringRecord, tuple, tupleOf } from "../internal/replyDecoders.ts"

const EMPTY: ReadonlyArray<Arg> = []
const INFO_FLAGS = Flags.READONLY | Flags.NO_KEYS

/**
 * ASYNC or SYNC, for FLUSHDB, FLUSHALL, SCRIPT FLUSH and FUNCTION FLUSH.
 *
 * @category server
 * @since 0.1.0
 */
export type FlushMode = "ASYNC" | "SYNC"

// -----------------------------------------------------------------------------
// PING, ECHO, TIME
// -----------------------------------------------------------------------------

/**
 * PING: `PONG`, or `message` when given.
 *
 * @category server
 * @since 0.1.0
 */
export const ping = (message?: Arg): Command<string> =>
  unsafeMake("PING", message === undefined ? ["PING"] : ["PING", message], EMPTY, INFO_FLAGS, Reply.string)

/**
 * ECHO: returns `message`.
 *
 * @category server
 * @since 0.1.0
 */
export const echo = (message: Arg): Command<string> =>
  unsafeMake("ECHO", ["ECHO", message], EMPTY, INFO_FLAGS, Reply.string)

/**
 * The server clock as TIME returns it.
 *
 * @category server
 * @since 0.1.0
 */
export interface ServerTime {
  readonly seconds: number
  readonly microseconds: number
}

const decodeTime: (reply: RespValue) => ServerTime = tupleOf("TIME reply", {
  seconds: Reply.integer,
  microseconds: Reply.integer
})

/**
 * TIME: the server's unix time in seconds and microseconds.
 *
 * @category server
 * @since 0.1.0
 */
export const time = (): Command<ServerTime> => unsafeMake("TIME", ["TIME"], EMPTY, INFO_FLAGS, decodeTime)

// -----------------------------------------------------------------------------
// keyspace-wide
// -----------------------------------------------------------------------------

/**
 * DBSIZE: the number of keys in the selected database (of the node that
 * answers).
 *
 * @category server
 * @since 0.1.0
 */
export const dbsize = (): Command<number> => unsafeMake("DBSIZE", ["DBSIZE"], EMPTY, INFO_FLAGS, Reply.integer)

const FLUSH_FLAGS = Flags.WRITE | Flags.IDEMPOTENT | Flags.NO_KEYS | Flags.ALL_NODES

/**
 * FLUSHDB: deletes every key of the selected database, on every node.
 *
 * @category server
 * @since 0.1.0
 */
export const flushdb = (mode?: FlushMode): Command<void> =>
  unsafeMake("FLUSHDB", mode === undefined ? ["FLUSHDB"] : ["FLUSHDB", mode], EMPTY, FLUSH_FLAGS, Reply.ok)

/**
 * FLUSHALL: deletes every key of every database, on every node.
 *
 * @category server
 * @since 0.1.0
 */
export const flushall = (mode?: FlushMode): Command<void> =>
  unsafeMake("FLUSHALL", mode === undefined ? ["FLUSHALL"] : ["FLUSHALL", mode], EMPTY, FLUSH_FLAGS, Reply.ok)

/**
 * SWAPDB: swaps two databases. Not idempotent: a resend swaps them back.
 *
 * @category server
 * @since 0.1.0
 */
export const swapdb = (index1: number, index2: number): Command<void> => {
  const bad = checkInteger("SWAPDB index", index1) ?? checkInteger("SWAPDB index", index2)
  if (bad !== undefined) return invalid("SWAPDB", bad)
  return unsafeMake("SWAPDB", ["SWAPDB", index1, index2], EMPTY, Flags.WRITE | Flags.NO_KEYS, Reply.ok)
}

// -----------------------------------------------------------------------------
// INFO
// -----------------------------------------------------------------------------

/**
 * INFO: the server's report as text (all default sections, or the ones
 * named). Parse it with `parseInfo`.
 *
 * @category server
 * @since 0.1.0
 */
export const info = (sections?: string | ReadonlyArray<string>): Command<string> =>
  unsafeMake(
    "INFO",
    sections === undefined ? ["INFO"] : typeof sections === "string" ? ["INFO", sections] : ["INFO", ...sections],
    EMPTY,
    INFO_FLAGS,
    Reply.string
  )

// -----------------------------------------------------------------------------
// CONFIG
// -----------------------------------------------------------------------------

/**
 * CONFIG GET: the parameters matching the patterns, as a record.
 *
 * @category server
 * @since 0.1.0
 */
export const configGet = (patterns: string | ReadonlyArray<string>): Command<Record<string, string>> => {
  if (typeof patterns !== "string" && patterns.length === 0) return invalid("CONFIG", "CONFIG GET needs a pattern")
  return unsafeMake(
    "CONFIG",
    typeof patterns === "string" ? ["CONFIG", "GET", patterns] : ["CONFIG", "GET", ...patterns],
    EMPTY,
    INFO_FLAGS,
    stringRecord
  )
}

/**
 * CONFIG SET: sets parameters on every node.
 *
 * @category server
 * @since 0.1.0
 */
export const configSet = (
  parameters: Readonly<Record<string, Arg>> | ReadonlyArray<readonly [string, Arg]>
): Command<void> => {
  const argv: Array<Arg> = ["CONFIG", "SET"]
  if (Array.isArray(parameters)) {
    for (const [k, v] of parameters as ReadonlyArray<readonly [string, Arg]>) argv.push(k, v)
  } else {
    const record = parameters as Readonly<Record<string, Arg>>
    for (const k of Object.keys(record)) argv.push(k, record[k])
  }
  if (argv.length === 2) return invalid("CONFIG", "CONFIG SET needs at least one parameter")
  const bad = checkArgs(argv)
  if (bad !== undefined) return invalid("CONFIG", bad)
  return unsafeMake("CONFIG", argv, EMPTY, Flags.NO_KEYS | Flags.ALL_NODES | Flags.IDEMPOTENT, Reply.ok)
}

/**
 * CONFIG RESETSTAT: resets INFO statistics on every node.
 *
 * @category server
 * @since 0.1.0
 */
export const configResetstat = (): Command<void> =>
  unsafeMake("CONFIG", ["CONFIG", "RESETSTAT"], EMPTY, Flags.NO_KEYS | Flags.ALL_NODES | Flags.IDEMPOTENT, Reply.ok)

/**
 * CONFIG REWRITE: writes the running configuration to the config file.
 *
 * @category server
 * @since 0.1.0
 */
export const configRewrite = (): Command<void> =>
  unsafeMake("CONFIG", ["CONFIG", "REWRITE"], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)

// -----------------------------------------------------------------------------
// COMMAND
// -----------------------------------------------------------------------------

const decodeRawArray = Reply.array(Reply.raw)

/**
 * COMMAND COUNT: the number of commands the server knows.
 *
 * @category server
 * @since 0.1.0
 */
export const commandCount = (): Command<number> =>
  unsafeMake("COMMAND", ["COMMAND", "COUNT"], EMPTY, INFO_FLAGS, Reply.integer)

/**
 * COMMAND INFO: the raw descriptions of the named commands (all when none);
 * an unknown command's entry is `null`.
 *
 * @category server
 * @since 0.1.0
 */
export const commandInfo = (names: ReadonlyArray<string> = []): Command<Array<RespValue>> =>
  unsafeMake("COMMAND", ["COMMAND", "INFO", ...names], EMPTY, INFO_FLAGS, decodeRawArray)

/**
 * COMMAND DOCS: the raw documentation of the named commands (all when
 * none), by command name.
 *
 * @category server
 * @since 0.1.0
 */
export const commandDocs = (names: ReadonlyArray<string> = []): Command<Record<string, RespValue>> =>
  unsafeMake("COMMAND", ["COMMAND", "DOCS", ...names], EMPTY, INFO_FLAGS, rawRecord)

/**
 * COMMAND GETKEYS: the key arguments of a full command line, as the server
 * sees them.
 *
 * @category server
 * @since 0.1.0
 */
export const commandGetkeys = (args: ReadonlyArray<Arg>): Command<Array<string>> => {
  if (args.length === 0) return invalid("COMMAND", "COMMAND GETKEYS needs a command")
  return unsafeMake("COMMAND", ["COMMAND", "GETKEYS", ...args], EMPTY, INFO_FLAGS, stringArray)
}

/**
 * COMMAND LIST: command names, optionally filtered by module, ACL category
 * or pattern.
 *
 * @category server
 * @since 0.1.0
 */
export const commandList = (
  filter?: { readonly module: string } | { readonly aclcat: string } | { readonly pattern: string }
): Command<Array<string>> => {
  const argv: Array<Arg> = ["COMMAND", "LIST"]
  if (filter !== undefined) {
    if ("module" in filter) argv.push("FILTERBY", "MODULE", filter.module)
    else if ("aclcat" in filter) argv.push("FILTERBY", "ACLCAT", filter.aclcat)
    else argv.push("FILTERBY", "PATTERN", filter.pattern)
  }
  return unsafeMake("COMMAND", argv, EMPTY, INFO_FLAGS, stringArray)
}

// -----------------------------------------------------------------------------
// persistence
// -----------------------------------------------------------------------------

/**
 * LASTSAVE: unix time of the last successful save.
 *
 * @category server
 * @since 0.1.0
 */
export const lastsave = (): Command<number> => unsafeMake("LASTSAVE", ["LASTSAVE"], EMPTY, INFO_FLAGS, Reply.integer)

/**
 * SAVE: saves synchronously (blocks the whole server, not just the
 * connection).
 *
 * @category server
 * @since 0.1.0
 */
export const save = (): Command<void> => unsafeMake("SAVE", ["SAVE"], EMPTY, Flags.NO_KEYS, Reply.ok)

/**
 * BGSAVE: starts a background save; returns the server's status line.
 *
 * @category server
 * @since 0.1.0
 */
export const bgsave = (options?: { readonly schedule?: boolean | undefined }): Command<string> =>
  unsafeMake(
    "BGSAVE",
    options?.schedule === true ? ["BGSAVE", "SCHEDULE"] : ["BGSAVE"],
    EMPTY,
    Flags.NO_KEYS,
    Reply.string
  )

/**
 * BGREWRITEAOF: starts an AOF rewrite; returns the server's status line.
 *
 * @category server
 * @since 0.1.0
 */
export const bgrewriteaof = (): Command<string> =>
  unsafeMake("BGREWRITEAOF", ["BGREWRITEAOF"], EMPTY, Flags.NO_KEYS, Reply.string)

// -----------------------------------------------------------------------------
// replication
// -----------------------------------------------------------------------------

/**
 * The reply of ROLE, by role. Words are the server's (`slave`).
 *
 * @category server
 * @since 0.1.0
 */
export type ServerRole =
  | {
    readonly role: "master"
    readonly replicationOffset: number
    readonly replicas: Array<{ readonly host: string; readonly port: number; readonly offset: number }>
  }
  | {
    readonly role: "slave"
    readonly masterHost: string
    readonly masterPort: number
    /** connect, connecting, sync, connected, or handshake. */
    readonly state: string
    /** -1 while not yet synchronised. */
    readonly offset: number
  }
  | { readonly role: "sentinel"; readonly masterNames: Array<string> }

const decodeRole = (reply: RespValue): ServerRole => {
  const items = tuple(reply, 2, "ROLE reply")
  const role = Reply.string(items[0])
  switch (role) {
    case "master": {
      const replicas = Reply.items(items[2] ?? [])
      const out = new Array<{ readonly host: string; readonly port: number; readonly offset: number }>(
        replicas.length
      )
      for (let i = 0; i < replicas.length; i++) {
        const r = tuple(replicas[i], 3, "ROLE replica")
        out[i] = { host: Reply.string(r[0]), port: Reply.integer(r[1]), offset: Reply.integer(r[2]) }
      }
      return { role: "master", replicationOffset: Reply.integer(items[1]), replicas: out }
    }
    case "slave": {
      const r = tuple(reply, 5, "ROLE slave reply")
      return {
        role: "slave",
        masterHost: Reply.string(r[1]),
        masterPort: Reply.integer(r[2]),
        state: Reply.string(r[3]),
        offset: Reply.integer(r[4])
      }
    }
    case "sentinel":
      return { role: "sentinel", masterNames: stringArray(items[1]) }
    default:
      throw new UnexpectedReply(`unknown role ${role}`)
  }
}

/**
 * ROLE: whether the server is a master, a replica or a sentinel, with the
 * replication details of each.
 *
 * @category server
 * @since 0.1.0
 */
export const role = (): Command<ServerRole> => unsafeMake("ROLE", ["ROLE"], EMPTY, INFO_FLAGS, decodeRole)

/**
 * REPLICAOF host port: makes the server a replica of another.
 *
 * @category server
 * @since 0.1.0
 */
export const replicaof = (host: string, port: number): Command<void> => {
  const bad = checkInteger("REPLICAOF port", port)
  if (bad !== undefined) return invalid("REPLICAOF", bad)
  return unsafeMake("REPLICAOF", ["REPLICAOF", host, port], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)
}

/**
 * REPLICAOF NO ONE: promotes a replica to master.
 *
 * @category server
 * @since 0.1.0
 */
export const replicaofNoOne = (): Command<void> =>
  unsafeMake("REPLICAOF", ["REPLICAOF", "NO", "ONE"], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)

/**
 * FAILOVER: hands the master role to a replica (a chosen one with `to`),
 * or aborts a failover in progress.
 *
 * @category server
 * @since 0.1.0
 */
export const failover = (
  options?: {
    readonly to?:
      | { readonly host: string; readonly port: number; readonly force?: boolean | undefined }
      | undefined
    readonly abort?: boolean | undefined
    readonly timeout?: number | undefined
  }
): Command<void> => {
  const argv: Array<Arg> = ["FAILOVER"]
  if (options?.to !== undefined) {
    const bad = checkInteger("FAILOVER port", options.to.port)
    if (bad !== undefined) return invalid("FAILOVER", bad)
    argv.push("TO", options.to.host, options.to.port)
    if (options.to.force === true) {
      if (options.timeout === undefined) return invalid("FAILOVER", "FORCE needs a TIMEOUT")
      argv.push("FORCE")
    }
  }
  if (options?.abort === true) argv.push("ABORT")
  if (options?.timeout !== undefined) {
    const bad = checkInteger("FAILOVER TIMEOUT", options.timeout)
    if (bad !== undefined) return invalid("FAILOVER", bad)
    argv.push("TIMEOUT", options.timeout)
  }
  return unsafeMake("FAILOVER", argv, EMPTY, Flags.NO_KEYS, Reply.ok)
}

/**
 * WAIT: waits until the connection's earlier writes reach `numreplicas`
 * replicas or `timeoutMs` passes; returns how many replicas acknowledged.
 *
 * **Details**
 *
 * It runs on the connection that carried the caller's writes — the shared
 * one for `redis.wait(...)`, so it covers every write sent on it before,
 * the caller's included — or on the connection of `withConnection` /
 * `transaction` when it is sent there. It is not `BLOCKING`: on a fresh
 * dedicated connection, which has written nothing, WAIT would return at
 * once and prove nothing.
 *
 * **Gotchas**
 *
 * While it waits, the replies of later commands on the same connection wait
 * behind it, so `timeoutMs` must be at least 1 (0, "forever", is refused)
 * and should stay below the client's `commandTimeout`. To wait without a
 * bound, send `Commands.raw(["WAIT", n, 0])` inside `withConnection` after
 * writing on that same connection.
 *
 * @category server
 * @since 0.1.0
 */
export const wait = (numreplicas: number, timeoutMs: number): Command<number> => {
  const bad = checkInteger("WAIT numreplicas", numreplicas) ?? checkInteger("WAIT timeout", timeoutMs, 1)
  if (bad !== undefined) return invalid("WAIT", bad)
  return unsafeMake("WAIT", ["WAIT", numreplicas, timeoutMs], EMPTY, 0, Reply.integer)
}

/**
 * The reply of WAITAOF.
 *
 * @category server
 * @since 0.1.0
 */
export interface WaitAofResult {
  /** 1 if the local AOF has the writes. */
  readonly local: number
  readonly replicas: number
}

const decodeWaitAof: (reply: RespValue) => WaitAofResult = tupleOf("WAITAOF reply", {
  local: Reply.integer,
  replicas: Reply.integer
})

/**
 * WAITAOF (Redis >= 7.2): waits until the connection's earlier writes are
 * fsynced to the local AOF and/or `numreplicas` replicas' AOFs, or
 * `timeoutMs` passes. Same routing and timeout rules as `wait`.
 *
 * @category server
 * @since 0.1.0
 */
export const waitaof = (numlocal: 0 | 1, numreplicas: number, timeoutMs: number): Command<WaitAofResult> => {
  const bad = checkInteger("WAITAOF numreplicas", numreplicas) ?? checkInteger("WAITAOF timeout", timeoutMs, 1)
  if (bad !== undefined) return invalid("WAITAOF", bad)
  if (numlocal !== 0 && numlocal !== 1) return invalid("WAITAOF", "numlocal must be 0 or 1")
  return unsafeMake("WAITAOF", ["WAITAOF", numlocal, numreplicas, timeoutMs], EMPTY, 0, decodeWaitAof)
}

// -----------------------------------------------------------------------------
// diagnostics
// -----------------------------------------------------------------------------

/**
 * One SLOWLOG entry.
 *
 * @category server
 * @since 0.1.0
 */
export interface SlowlogEntry {
  readonly id: number
  /** Unix time (seconds) the command ran. */
  readonly timestamp: number
  readonly durationMicros: number
  readonly args: Array<string>
  readonly clientAddress: Option.Option<string>
  readonly clientName: Option.Option<string>
}

const optionalNonEmpty = (reply: RespValue | undefined): Option.Option<string> => {
  if (reply === undefined || reply === null) return Option.none()
  const s = Reply.string(reply)
  return s.length === 0 ? Option.none() : Option.some(s)
}

const decodeSlowlogEntry = (reply: RespValue): SlowlogEntry => {
  const items = tuple(reply, 4, "SLOWLOG entry")
  return {
    id: Reply.integer(items[0]),
    timestamp: Reply.integer(items[1]),
    durationMicros: Reply.integer(items[2]),
    args: stringArray(items[3]),
    clientAddress: optionalNonEmpty(items[4]),
    clientName: optionalNonEmpty(items[5])
  }
}

const decodeSlowlog = Reply.array(decodeSlowlogEntry)

/**
 * SLOWLOG GET: the most recent slow commands (server default 10; -1 = all).
 *
 * @category server
 * @since 0.1.0
 */
export const slowlogGet = (count?: number): Command<Array<SlowlogEntry>> => {
  if (count !== undefined) {
    const bad = checkInteger("SLOWLOG GET count", count, -1)
    if (bad !== undefined) return invalid("SLOWLOG", bad)
  }
  return unsafeMake(
    "SLOWLOG",
    count === undefined ? ["SLOWLOG", "GET"] : ["SLOWLOG", "GET", count],
    EMPTY,
    INFO_FLAGS,
    decodeSlowlog
  )
}

/**
 * SLOWLOG LEN: the number of entries in the slow log.
 *
 * @category server
 * @since 0.1.0
 */
export const slowlogLen = (): Command<number> =>
  unsafeMake("SLOWLOG", ["SLOWLOG", "LEN"], EMPTY, INFO_FLAGS, Reply.integer)

/**
 * SLOWLOG RESET: empties the slow log.
 *
 * @category server
 * @since 0.1.0
 */
export const slowlogReset = (): Command<void> =>
  unsafeMake("SLOWLOG", ["SLOWLOG", "RESET"], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)

/**
 * MEMORY USAGE: bytes a key and its value take; `None` if it does not exist.
 *
 * @category server
 * @since 0.1.0
 */
export const memoryUsage = (
  key: Arg,
  options?: { readonly samples?: number | undefined }
): Command<Option.Option<number>> => {
  if (options?.samples !== undefined) {
    const bad = checkInteger("MEMORY USAGE SAMPLES", options.samples)
    if (bad !== undefined) return invalid("MEMORY", bad)
    return unsafeMake(
      "MEMORY",
      ["MEMORY", "USAGE", key, "SAMPLES", options.samples],
      [key],
      Flags.READONLY,
      Reply.optionalInteger
    )
  }
  return unsafeMake("MEMORY", ["MEMORY", "USAGE", key], [key], Flags.READONLY, Reply.optionalInteger)
}

/**
 * One event of LATENCY LATEST.
 *
 * @category server
 * @since 0.1.0
 */
export interface LatencyEvent {
  readonly event: string
  /** Unix time (seconds) of the latest spike. */
  readonly timestamp: number
  readonly latestMs: number
  readonly maxMs: number
}

const decodeLatencyEvent: (reply: RespValue) => LatencyEvent = tupleOf("LATENCY LATEST entry", {
  event: Reply.string,
  timestamp: Reply.integer,
  latestMs: Reply.integer,
  maxMs: Reply.integer
})

const decodeLatencyLatest = Reply.array(decodeLatencyEvent)

/**
 * LATENCY LATEST: the latest and worst latency of each monitored event.
 *
 * @category server
 * @since 0.1.0
 */
export const latencyLatest = (): Command<Array<LatencyEvent>> =>
  unsafeMake("LATENCY", ["LATENCY", "LATEST"], EMPTY, INFO_FLAGS, decodeLatencyLatest)

/**
 * LATENCY RESET: clears the named events (all when none); returns how many
 * were reset.
 *
 * @category server
 * @since 0.1.0
 */
export const latencyReset = (events: ReadonlyArray<string> = []): Command<number> =>
  unsafeMake("LATENCY", ["LATENCY", "RESET", ...events], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.integer)

/**
 * DEBUG SLEEP: makes the server sleep (seconds, fractions allowed). It
 * stalls everything, so it is `BLOCKING`; meant for tests.
 *
 * @category server
 * @since 0.1.0
 */
export const debugSleep = (seconds: number): Command<void> => {
  const bad = checkNumber("DEBUG SLEEP seconds", seconds)
  if (bad !== undefined) return invalid("DEBUG", bad)
  return unsafeMake("DEBUG", ["DEBUG", "SLEEP", seconds], EMPTY, Flags.BLOCKING | Flags.NO_KEYS, Reply.ok)
}

/**
 * MONITOR: turns the connection into a feed of every command the server
 * runs. Connection state: only on a connection of its own.
 *
 * @category server
 * @since 0.1.0
 */
export const monitor = (): Command<void> =>
  unsafeMake("MONITOR", ["MONITOR"], EMPTY, Flags.CONNECTION_STATE | Flags.NO_KEYS, Reply.ok)

/**
 * LOLWUT: the server's version art.
 *
 * @category server
 * @since 0.1.0
 */
export const lolwut = (options?: { readonly version?: number | undefined }): Command<string> => {
  if (options?.version !== undefined) {
    const bad = checkInteger("LOLWUT VERSION", options.version)
    if (bad !== undefined) return invalid("LOLWUT", bad)
    return unsafeMake("LOLWUT", ["LOLWUT", "VERSION", options.version], EMPTY, INFO_FLAGS, Reply.string)
  }
  return unsafeMake("LOLWUT", ["LOLWUT"], EMPTY, INFO_FLAGS, Reply.string)
}

/**
 * SHUTDOWN: saves (unless `NOSAVE`) and stops the server. On success the
 * server closes the connection without a reply, so the decoder accepts
 * anything.
 *
 * @category server
 * @since 0.1.0
 */
export const shutdown = (
  options?: {
    readonly mode?: "NOSAVE" | "SAVE" | undefined
    readonly now?: boolean | undefined
    readonly force?: boolean | undefined
    readonly abort?: boolean | undefined
  }
): Command<void> => {
  const argv: Array<Arg> = ["SHUTDOWN"]
  if (options?.mode !== undefined) argv.push(options.mode)
  if (options?.now === true) argv.push("NOW")
  if (options?.force === true) argv.push("FORCE")
  if (options?.abort === true) {
    if (argv.length > 1) return invalid("SHUTDOWN", "ABORT takes no other option")
    argv.push("ABORT")
  }
  return unsafeMake("SHUTDOWN", argv, EMPTY, Flags.NO_KEYS, ignore)
}

// -----------------------------------------------------------------------------
// ACL
// -----------------------------------------------------------------------------

/**
 * ACL WHOAMI: the user of this connection.
 *
 * @category server
 * @since 0.1.0
 */
export const aclWhoami = (): Command<string> =>
  unsafeMake("ACL", ["ACL", "WHOAMI"], EMPTY, INFO_FLAGS, Reply.string)

/**
 * ACL LIST: every user's rules, one line each.
 *
 * @category server
 * @since 0.1.0
 */
export const aclList = (): Command<Array<string>> =>
  unsafeMake("ACL", ["ACL", "LIST"], EMPTY, INFO_FLAGS, stringArray)

/**
 * ACL USERS: the user names.
 *
 * @category server
 * @since 0.1.0
 */
export const aclUsers = (): Command<Array<string>> =>
  unsafeMake("ACL", ["ACL", "USERS"], EMPTY, INFO_FLAGS, stringArray)

/**
 * ACL SETUSER: creates or changes a user with ACL rules (`on`, `>password`,
 * `~key*`, `+@read`, ...). The rules may hold passwords.
 *
 * @category server
 * @since 0.1.0
 */
export const aclSetuser = (username: string, rules: ReadonlyArray<string> = []): Command<void> =>
  unsafeMake("ACL", ["ACL", "SETUSER", username, ...rules], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)

/**
 * ACL DELUSER: deletes users; returns how many existed.
 *
 * @category server
 * @since 0.1.0
 */
export const aclDeluser = (usernames: ReadonlyArray<string>): Command<number> => {
  if (usernames.length === 0) return invalid("ACL", "ACL DELUSER needs at least one user")
  return unsafeMake("ACL", ["ACL", "DELUSER", ...usernames], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.integer)
}

const decodeGetuser = Reply.optional(rawRecord)

/**
 * ACL GETUSER: a user's rules as raw fields (`flags`, `passwords`, `commands`,
 * `keys`, `channels`, `selectors`); `None` if there is no such user.
 *
 * @category server
 * @since 0.1.0
 */
export const aclGetuser = (username: string): Command<Option.Option<Record<string, RespValue>>> =>
  unsafeMake("ACL", ["ACL", "GETUSER", username], EMPTY, INFO_FLAGS, decodeGetuser)

/**
 * ACL CAT: the ACL categories, or the commands of one category.
 *
 * @category server
 * @since 0.1.0
 */
export const aclCat = (category?: string): Command<Array<string>> =>
  unsafeMake("ACL", category === undefined ? ["ACL", "CAT"] : ["ACL", "CAT", category], EMPTY, INFO_FLAGS, stringArray)

const decodeAclLog = Reply.array(rawRecord)

/**
 * ACL LOG: recent ACL denials, newest first, as raw fields.
 *
 * @category server
 * @since 0.1.0
 */
export const aclLog = (count?: number): Command<Array<Record<string, RespValue>>> => {
  if (count !== undefined) {
    const bad = checkInteger("ACL LOG count", count)
    if (bad !== undefined) return invalid("ACL", bad)
  }
  return unsafeMake("ACL", count === undefined ? ["ACL", "LOG"] : ["ACL", "LOG", count], EMPTY, INFO_FLAGS, decodeAclLog)
}

/**
 * ACL LOG RESET: empties the ACL log.
 *
 * @category server
 * @since 0.1.0
 */
export const aclLogReset = (): Command<void> =>
  unsafeMake("ACL", ["ACL", "LOG", "RESET"], EMPTY, Flags.NO_KEYS | Flags.IDEMPOTENT, Reply.ok)
