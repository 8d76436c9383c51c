/**
 * SENTINEL commands, sent to a sentinel (`Sentinel.execute` /
 * `executeAll`, or any client connected to a sentinel's port): the state
 * queries MASTERS, MASTER, REPLICAS, SENTINELS and GET-MASTER-ADDR-BY-NAME,
 * and the administration RESET, FAILOVER, CKQUORUM, FLUSHCONFIG, MONITOR,
 * REMOVE and SET.
 *
 * Replies are parsed: an instance record (`SENTINEL MASTER` and the rest)
 * becomes a `SentinelInstance` with its common fields typed and every field
 * kept as text in `fields`. Addresses are the ones the sentinel reports, not
 * rewritten by a client's `addressRemap`. Every function builds a `Command`
 * value; nothing here sends anything, and a data node refuses these
 * commands.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import { Flags, invalid, Reply, UnexpectedReply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { checkInteger, stringRecord } from "../internal/replyDecoders.ts"

const EMPTY: ReadonlyArray<Arg> = []
const QUERY = Flags.READONLY | Flags.NO_KEYS
const ADMIN = Flags.WRITE | Flags.NO_KEYS

// -----------------------------------------------------------------------------
// replies
// -----------------------------------------------------------------------------

/**
 * One instance a sentinel knows (a primary, a replica or another sentinel):
 * its name, address, run id and flags (`master`, `slave`, `s_down`,
 * `o_down`, `disconnected`, ...), and every field of the record as text.
 *
 * @category sentinel
 * @since 0.1.0
 */
export interface SentinelInstance {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly runId: string
  readonly flags: ReadonlyArray<string>
  /** Whether the sentinel sees it down (`s_down` or `o_down`). */
  readonly down: boolean
  /** Every field of the record, as the sentinel sent it. */
  readonly fields: Readonly<Record<string, string>>
}

/**
 * A monitored primary (`SENTINEL MASTER`, `SENTINEL MASTERS`).
 *
 * @category sentinel
 * @since 0.1.0
 */
export interface SentinelMasterInfo extends SentinelInstance {
  readonly quorum: number
  readonly numReplicas: number
  readonly numOtherSentinels: number
  readonly configEpoch: number
  readonly downAfterMillis: number
  readonly failoverTimeoutMillis: number
  readonly parallelSyncs: number
}

/**
 * A replica of a monitored primary (`SENTINEL REPLICAS`).
 *
 * @category sentinel
 * @since 0.1.0
 */
export interface SentinelReplicaInfo extends SentinelInstance {
  readonly masterHost: string
  readonly masterPort: number
  /** `ok` or `err`. */
  readonly masterLinkStatus: string
  readonly replicationOffset: number
  readonly priority: number
}

/**
 * Another sentinel of the same primary (`SENTINEL SENTINELS`).
 *
 * @category sentinel
 * @since 0.1.0
 */
export interface SentinelPeerInfo extends SentinelInstance {
  /** The run id it voted for in the last leader election (`?` when none). */
  readonly votedLeader: string
  readonly votedLeaderEpoch: number
}

const required = (fields: Record<string, string>, name: string, what: string): string => {
  const value = fields[name]
  if (value === undefined) throw new UnexpectedReply(`${what}: no '${name}' field`)
  return value
}

const numberOf = (fields: Record<string, string>, name: string): number => {
  const value = fields[name]
  return value === undefined ? Number.NaN : Number(value)
}

const instance = (reply: RespValue, what: string): SentinelInstance => {
  const fields = stringRecord(reply)
  const port = Number(required(fields, "port", what))
  if (!Number.isInteger(port)) throw new UnexpectedReply(`${what}: port '${fields.port}' is not a number`)
  const flags = (fields.flags ?? "").split(",").filter((f) => f !== "")
  return {
    name: required(fields, "name", what),
    host: required(fields, "ip", what),
    port,
    runId: fields.runid ?? "",
    flags,
    down: flags.includes("s_down") || flags.includes("o_down"),
    fields
  }
}

const decodeMaster = (reply: RespValue): SentinelMasterInfo => {
  const base = instance(reply, "SENTINEL MASTER")
  const f = base.fields as Record<string, string>
  return {
    ...base,
    quorum: numberOf(f, "quorum"),
    numReplicas: numberOf(f, "num-slaves"),
    numOtherSentinels: numberOf(f, "num-other-sentinels"),
    configEpoch: numberOf(f, "config-epoch"),
    downAfterMillis: numberOf(f, "down-after-milliseconds"),
    failoverTimeoutMillis: numberOf(f, "failover-timeout"),
    parallelSyncs: numberOf(f, "parallel-syncs")
  }
}

const decodeReplica = (reply: RespValue): SentinelReplicaInfo => {
  const base = instance(reply, "SENTINEL REPLICAS")
  const f = base.fields as Record<string, string>
  return {
    ...base,
    masterHost: f["master-host"] ?? "",
    masterPort: numberOf(f, "master-port"),
    masterLinkStatus: f["master-link-status"] ?? "",
    replicationOffset: numberOf(f, "slave-repl-offset"),
    priority: numberOf(f, "slave-priority")
  }
}

const decodePeer = (reply: RespValue): SentinelPeerInfo => {
  const base = instance(reply, "SENTINEL SENTINELS")
  const f = base.fields as Record<string, string>
  return { ...base, votedLeader: f["voted-leader"] ?? "?", votedLeaderEpoch: numberOf(f, "voted-leader-epoch") }
}

const decodeAddress = (reply: RespValue): Option.Option<{ readonly host: string; readonly port: number }> => {
  if (reply === null) return Option.none()
  const pair = Reply.items(reply)
  if (pair.length !== 2) throw new UnexpectedReply("GET-MASTER-ADDR-BY-NAME: expected [ip, port]")
  const port = Number(Reply.string(pair[1]))
  if (!Number.isInteger(port)) throw new UnexpectedReply(`GET-MASTER-ADDR-BY-NAME: port '${Reply.string(pair[1])}'`)
  return Option.some({ host: Reply.string(pair[0]), port })
}

const sentinel = <A>(args: ReadonlyArray<Arg>, flags: number, decode: (reply: RespValue) => A): Command<A> =>
  unsafeMake("SENTINEL", ["SENTINEL", ...args], EMPTY, flags, decode)

// -----------------------------------------------------------------------------
// state
// -----------------------------------------------------------------------------

/**
 * SENTINEL MASTERS: every primary the sentinel monitors.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelMasters = (): Command<Array<SentinelMasterInfo>> =>
  sentinel(["MASTERS"], QUERY, Reply.array(decodeMaster))

/**
 * SENTINEL MASTER name: the state of one monitored primary.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelMaster = (name: string): Command<SentinelMasterInfo> => sentinel(["MASTER", name], QUERY, decodeMaster)

/**
 * SENTINEL REPLICAS name: the replicas of a monitored primary.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelReplicas = (name: string): Command<Array<SentinelReplicaInfo>> =>
  sentinel(["REPLICAS", name], QUERY, Reply.array(decodeReplica))

/**
 * SENTINEL SENTINELS name: the other sentinels of a monitored primary.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelSentinels = (name: string): Command<Array<SentinelPeerInfo>> =>
  sentinel(["SENTINELS", name], QUERY, Reply.array(decodePeer))

/**
 * SENTINEL GET-MASTER-ADDR-BY-NAME name: the address of the primary
 * (`none` for a name the sentinel does not monitor).
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelGetMasterAddrByName = (
  name: string
): Command<Option.Option<{ readonly host: string; readonly port: number }>> =>
  sentinel(["GET-MASTER-ADDR-BY-NAME", name], QUERY, decodeAddress)

/**
 * SENTINEL CKQUORUM name: whether the sentinels that can be reached are
 * enough to authorise a failover; the sentinel's explanation (a refusal
 * fails with its `NOQUORUM` reply).
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelCkquorum = (name: string): Command<string> => sentinel(["CKQUORUM", name], QUERY, Reply.string)

// -----------------------------------------------------------------------------
// administration
// -----------------------------------------------------------------------------

/**
 * SENTINEL RESET pattern: forgets the state of every primary whose name
 * matches (glob); how many were reset.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelReset = (pattern: string): Command<number> => sentinel(["RESET", pattern], ADMIN, Reply.integer)

/**
 * SENTINEL FAILOVER name: starts a failover without asking the other
 * sentinels.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelFailover = (name: string): Command<void> => sentinel(["FAILOVER", name], ADMIN, Reply.ok)

/**
 * SENTINEL FLUSHCONFIG: rewrites the sentinel's configuration file.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelFlushconfig = (): Command<void> =>
  sentinel(["FLUSHCONFIG"], ADMIN | Flags.IDEMPOTENT, Reply.ok)

/**
 * SENTINEL MONITOR name host port quorum: starts monitoring a primary.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelMonitor = (name: string, host: string, port: number, quorum: number): Command<void> => {
  const bad = checkInteger("SENTINEL MONITOR port", port, 1) ?? checkInteger("SENTINEL MONITOR quorum", quorum, 1)
  if (bad !== undefined) return invalid("SENTINEL", bad)
  return sentinel(["MONITOR", name, host, port, quorum], ADMIN, Reply.ok)
}

/**
 * SENTINEL REMOVE name: stops monitoring a primary.
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelRemove = (name: string): Command<void> => sentinel(["REMOVE", name], ADMIN, Reply.ok)

/**
 * SENTINEL SET name option value ...: changes monitoring parameters
 * (`down-after-milliseconds`, `quorum`, `failover-timeout`, `auth-pass`, ...).
 *
 * @category sentinel
 * @since 0.1.0
 */
export const sentinelSet = (name: string, options: Readonly<Record<string, string | number>>): Command<void> => {
  const entries = Object.entries(options)
  if (entries.length === 0) return invalid("SENTINEL", "SENTINEL SET needs at least one option")
  const args: Array<Arg> = ["SET", name]
  for (const [option, value] of entries) {
    if (typeof value === "number" && !Number.isFinite(value)) {
      return invalid("SENTINEL", `SENTINEL SET ${option} must be a finite number, got ${value}`)
    }
    args.push(option, value)
  }
  return sentinel(args, ADMIN | Flags.IDEMPOTENT, Reply.ok)
}
