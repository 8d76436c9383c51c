/**
 * What a cluster client knows about a command it did not build itself:
 * where its keys are, and its request and response policies (which nodes
 * a keyless command goes to, and how their replies combine).
 *
 * The server is the source: `COMMAND` lists every command with its key
 * positions and, since Redis 7, its tips (`request_policy:all_shards`,
 * `response_policy:agg_sum`, ...). `COMMAND DOCS` does not carry the tips, so
 * the table is read from `COMMAND`, once per client and only when a command
 * needs it. The order of authority for a keyless command:
 *
 * 1. the command's own metadata: `Flags.ALL_NODES` means every shard;
 * 2. the server's tips, when the server gives them;
 * 3. the static `fallback` table (servers before 7, or a `COMMAND` that
 *    failed), which says what this client did before it read tips;
 * 4. otherwise one node.
 *
 * `parseCommandInfo`, `lookup`, `policyOf` and `keysOf` are pure; `loader`
 * is the one effect: fetch once (single-flight), keep the table. Nothing
 * here sends a user command or aggregates replies (`ClusterFanOut` does).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type { Command } from "../Command.ts"
import * as Cmd from "../Command.ts"
import * as RedisError from "../RedisError.ts"
import type { Arg, RespValue } from "../Resp.ts"

// -----------------------------------------------------------------------------
// model
// -----------------------------------------------------------------------------

/**
 * Where a command goes (the server's `request_policy` tip):
 *
 * - `default`: by its keys; keyless, any one node.
 * - `allShards`: every primary. `allNodes`: every node, replicas included.
 * - `multiShard`: split by the slots of its keys (MGET, DEL, ...). This
 *   client routes such a command by its keys and refuses keys of several
 *   slots (`CrossSlot`); `Cluster.mgetNonAtomic` and friends split them.
 * - `special`: something no generic rule covers (SCAN): one node.
 *
 * @category models
 * @since 0.1.0
 */
export type RequestPolicy = "default" | "allShards" | "allNodes" | "multiShard" | "special"

/**
 * How the replies of several nodes combine (the `response_policy` tip):
 * `oneSucceeded` (the first success), `allSucceeded` (every node must
 * succeed; the first reply), `aggSum`, `aggMin`, `aggMax`, `aggLogicalAnd`,
 * `aggLogicalOr`, `default` (arrays concatenated) and `special` (not
 * combinable: such a command runs on one node).
 *
 * @category models
 * @since 0.1.0
 */
export type ResponsePolicy =
  | "default"
  | "oneSucceeded"
  | "allSucceeded"
  | "aggSum"
  | "aggMin"
  | "aggMax"
  | "aggLogicalAnd"
  | "aggLogicalOr"
  | "special"

/**
 * @category models
 * @since 0.1.0
 */
export interface Policy {
  readonly request: RequestPolicy
  readonly response: ResponsePolicy
}

/**
 * Key positions as `COMMAND` gives them: `first` and `last` argv indexes
 * (`last` negative counts from the end), `step` between keys; `movable`
 * when only `COMMAND GETKEYS` can tell.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeySpec {
  readonly first: number
  readonly last: number
  readonly step: number
  readonly movable: boolean
}

/**
 * One command of the table; containers (`SCRIPT`, `CONFIG`, ...) hold their
 * subcommands by upper-case name.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry extends Policy {
  readonly keys: KeySpec
  readonly subcommands: ReadonlyMap<string, Entry> | undefined
}

/**
 * Commands by upper-case name.
 *
 * @category models
 * @since 0.1.0
 */
export type Table = ReadonlyMap<string, Entry>

/**
 * No tip: by the keys, or any one node.
 *
 * @category policies
 * @since 0.1.0
 */
export const defaultPolicy: Policy = { request: "default", response: "default" }

// -----------------------------------------------------------------------------
// parsing COMMAND
// -----------------------------------------------------------------------------

const requestPolicies: Readonly<Record<string, RequestPolicy>> = {
  all_shards: "allShards",
  all_nodes: "allNodes",
  multi_shard: "multiShard",
  special: "special"
}

const responsePolicies: Readonly<Record<string, ResponsePolicy>> = {
  one_succeeded: "oneSucceeded",
  all_succeeded: "allSucceeded",
  agg_sum: "aggSum",
  agg_min: "aggMin",
  agg_max: "aggMax",
  agg_logical_and: "aggLogicalAnd",
  agg_logical_or: "aggLogicalOr",
  special: "special"
}

/**
 * The policies a list of command tips states. Unknown tips and unknown
 * policy values are ignored (a later server may add some).
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseTips = (tips: ReadonlyArray<string>): Policy => {
  let request: RequestPolicy = "default"
  let response: ResponsePolicy = "default"
  for (const tip of tips) {
    const colon = tip.indexOf(":")
    if (colon < 0) continue
    const kind = tip.slice(0, colon)
    const value = tip.slice(colon + 1).toLowerCase()
    if (kind === "request_policy") request = requestPolicies[value] ?? request
    else if (kind === "response_policy") response = responsePolicies[value] ?? response
  }
  return request === "default" && response === "default" ? defaultPolicy : { request, response }
}

const parseEntry = (value: RespValue): readonly [string, Entry] => {
  const fields = Cmd.Reply.items(value)
  if (fields.length < 6) throw new Cmd.UnexpectedReply("COMMAND: an entry needs at least 6 fields")
  const name = Cmd.Reply.string(fields[0]).toUpperCase()
  const flags = Cmd.Reply.items(fields[2]).map(Cmd.Reply.string)
  // Redis 7 added tips (8th field) and subcommands (10th); before, neither.
  const tips = fields.length > 7 && fields[7] !== null ? Cmd.Reply.items(fields[7]).map(Cmd.Reply.string) : []
  const subs = fields.length > 9 && fields[9] !== null ? Cmd.Reply.items(fields[9]) : []
  let subcommands: Map<string, Entry> | undefined
  for (const sub of subs) {
    const [full, entry] = parseEntry(sub)
    const bar = full.indexOf("|")
    subcommands ??= new Map()
    subcommands.set(bar < 0 ? full : full.slice(bar + 1), entry)
  }
  const policy = parseTips(tips)
  return [name, {
    request: policy.request,
    response: policy.response,
    keys: {
      first: Cmd.Reply.integer(fields[3]),
      last: Cmd.Reply.integer(fields[4]),
      step: Cmd.Reply.integer(fields[5]),
      movable: flags.includes("movablekeys")
    },
    subcommands
  }]
}

/**
 * Parses a `COMMAND` (or `COMMAND INFO ...`) reply, RESP2 or RESP3, into a
 * table. Entries the server sent as null (`COMMAND INFO` of an unknown
 * name) are skipped; a malformed entry throws `Command.UnexpectedReply`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseCommandInfo = (reply: RespValue): Table => {
  const table = new Map<string, Entry>()
  for (const item of Cmd.Reply.items(reply)) {
    if (item === null) continue
    const [name, entry] = parseEntry(item)
    table.set(name, entry)
  }
  return table
}

// -----------------------------------------------------------------------------
// policies
// -----------------------------------------------------------------------------

const allShards = (response: ResponsePolicy): Policy => ({ request: "allShards", response })

/**
 * What this client knew before it read tips, for servers that give none:
 * DBSIZE sums every primary, KEYS concatenates, the flushes and the
 * script, function and config commands must succeed everywhere.
 *
 * @category policies
 * @since 0.1.0
 */
export const fallback: ReadonlyMap<string, Policy> = new Map([
  ["DBSIZE", allShards("aggSum")],
  ["KEYS", allShards("default")],
  ["FLUSHALL", allShards("allSucceeded")],
  ["FLUSHDB", allShards("allSucceeded")],
  ["SCRIPT", allShards("allSucceeded")],
  ["FUNCTION", allShards("allSucceeded")],
  ["CONFIG", allShards("allSucceeded")]
])

/**
 * The table's entry for a command: its subcommand's when it has one (the
 * second word), else the command's own.
 *
 * @category policies
 * @since 0.1.0
 */
export const lookup = (table: Table, command: Command<unknown>): Entry | undefined => {
  const entry = table.get(command.name)
  if (entry === undefined || entry.subcommands === undefined || command.args.length < 2) return entry
  const word = command.args[1]
  return typeof word === "string" ? entry.subcommands.get(word.toUpperCase()) ?? entry : entry
}

/**
 * The policy of a keyless command, by the order of authority above:
 * `ALL_NODES` on the command sends it to every primary (its replies combine
 * by the server's or the fallback's response policy, else `allSucceeded`);
 * otherwise the server's table when there is one and it knows the command;
 * otherwise the fallback; otherwise `defaultPolicy`.
 *
 * @category policies
 * @since 0.1.0
 */
export const policyOf = (command: Command<unknown>, table: Table | undefined): Policy => {
  const known: Policy | undefined = (table === undefined ? undefined : lookup(table, command)) ?? fallback.get(command.name)
  if ((command.flags & Cmd.Flags.ALL_NODES) !== 0) {
    // A replica refuses the writes these commands are (FLUSHALL, SCRIPT
    // LOAD, CONFIG SET): every shard means every primary.
    const response = known === undefined || known.response === "default" || known.response === "special"
      ? "allSucceeded"
      : known.response
    return allShards(response)
  }
  return known ?? defaultPolicy
}

/**
 * Whether a policy sends the command to several nodes: every shard or
 * every node, with replies this client can combine (`special` ones run on
 * one node).
 *
 * @category policies
 * @since 0.1.0
 */
export const fansOut = (policy: Policy): boolean =>
  (policy.request === "allShards" || policy.request === "allNodes") && policy.response !== "special"

/**
 * The keys of `command` by fixed key positions (`[]` when the spec has none).
 * A `movable` spec is not read here: ask the server (`COMMAND GETKEYS`).
 *
 * @category keys
 * @since 0.1.0
 */
export const keysOf = (command: Command<unknown>, spec: KeySpec): Array<Arg> => {
  const args = command.args
  if (spec.first <= 0) return []
  const last = spec.last < 0 ? args.length + spec.last : spec.last
  const keys: Array<Arg> = []
  for (let i = spec.first; i <= last && i < args.length; i += Math.max(1, spec.step)) keys.push(args[i])
  return keys
}

// -----------------------------------------------------------------------------
// loading
// -----------------------------------------------------------------------------

/**
 * The table of one client, read from the server on first use.
 *
 * @category models
 * @since 0.1.0
 */
export interface Loader {
  /** The table if it was read already: a plain read. */
  readonly current: () => Table | undefined
  /** The table, read now if needed (single-flight). */
  readonly load: Effect.Effect<Table, RedisError.RedisError>
}

/**
 * A loader over `fetch` (a `COMMAND` sent to some node). A success is kept
 * for the life of the client; so is a refusal by the server that is not
 * retryable (an ACL without `COMMAND`, say), as it would be refused again;
 * any other failure is forgotten, and the next use asks again. The fetch runs on a
 * fiber of the scope, so an interrupted caller does not fail the others.
 *
 * @category constructors
 * @since 0.1.0
 */
export const loader = (fetch: Effect.Effect<RespValue, RedisError.RedisError>): Effect.Effect<Loader, never, Scope.Scope> =>
  Effect.map(Effect.scope, (scope) => {
    let table: Table | undefined
    let refused: RedisError.RedisError | undefined
    let pending: Deferred.Deferred<Table, RedisError.RedisError> | undefined
    const parse = (reply: RespValue) =>
      Effect.try({
        try: () => parseCommandInfo(reply),
        catch: (e) => RedisError.make(new RedisError.ProtocolError({ message: String(e) }), "Rejected", "COMMAND")
      })
    const load = Effect.suspend((): Effect.Effect<Table, RedisError.RedisError> => {
      if (table !== undefined) return Effect.succeed(table)
      if (refused !== undefined) return Effect.fail(refused)
      if (pending !== undefined) return Deferred.await(pending)
      const deferred = Deferred.makeUnsafe<Table, RedisError.RedisError>()
      pending = deferred
      const run = Effect.onExit(Effect.flatMap(fetch, parse), (exit) =>
        Effect.sync(() => {
          pending = undefined
          if (Exit.isSuccess(exit)) table = exit.value
          else {
            const error = RedisError.failureOf(exit)
            if (error !== undefined && error.outcome === "Rejected" && !error.reason.isRetryable) refused = error
          }
          Deferred.doneUnsafe(deferred, exit)
        }))
      return Effect.andThen(Effect.forkIn(run, scope), Deferred.await(deferred))
    })
    return { current: () => table, load }
  })
