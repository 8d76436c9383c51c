/**
 * The `redis-effect` command-line tool: `redis-effect cluster <subcommand>`
 * runs the `ClusterAdmin` operations from a terminal with redis-cli's flag
 * names, built on `effect/cli` (help, `--completions`, parse errors).
 *
 * Subcommands: create, check, info, fix, reshard, rebalance, add-node,
 * del-node, call, set-timeout, import, backup. Every subcommand that changes the cluster
 * shows its plan and asks for `yes` on standard input before anything
 * changes, unless `--cluster-yes`. `--json` prints the result as one JSON
 * document. Progress of reshard, rebalance, fix, import and backup goes to standard error:
 * a bar with rate and ETA on a terminal, plain lines otherwise.
 *
 * Exit codes (`exitCode`): 0 done; 1 a check found problems, an operation
 * failed or the plan was not confirmed; 2 a usage error or refused input
 * (bad flags, unreachable addresses given, a wrong password, out-of-range
 * counts, unknown nodes). `import` exits 1 when some keys were not imported
 * (listed on standard error, or in the JSON), like `BUSYKEY` without
 * `--cluster-replace`.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Argument, Command, Flag } from "effect/cli"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { Transport } from "@redis-effect/redis/Transport"
import * as ClusterAdmin from "./ClusterAdmin.ts"
import * as Plan from "./internal/plan.ts"
import * as Render from "./internal/render.ts"

/**
 * How the process should end, carried as a failure out of a handler.
 *
 * @category models
 * @since 0.1.0
 */
export class Exit {
  readonly _tag = "Exit"
  readonly code: 0 | 1 | 2
  readonly message: string
  constructor(code: 0 | 1 | 2, message: string) {
    this.code = code
    this.message = message
  }
}

const connectionFlags = {
  password: Flag.optional(Flag.Redacted("pass").pipe(Flag.withAlias("a"), Flag.withDescription("Password (AUTH); also REDISCLI_AUTH"))),
  user: Flag.optional(Flag.String("user").pipe(Flag.withDescription("ACL user name"))),
  tls: Flag.Boolean("tls").pipe(Flag.withDefault(false), Flag.withDescription("Connect with TLS")),
  cacert: Flag.optional(Flag.String("cacert").pipe(Flag.withDescription("CA certificate file (PEM)"))),
  cert: Flag.optional(Flag.String("cert").pipe(Flag.withDescription("Client certificate file (PEM)"))),
  key: Flag.optional(Flag.String("key").pipe(Flag.withDescription("Client private key file (PEM)"))),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the result as JSON"))
}

type Common = {
  readonly password: Option.Option<Redacted.Redacted<string>>
  readonly user: Option.Option<string>
  readonly tls: boolean
  readonly cacert: Option.Option<string>
  readonly cert: Option.Option<string>
  readonly key: Option.Option<string>
  readonly json: boolean
}

const adminOptions = (c: Common): ClusterAdmin.AdminOptions => {
  const env = process.env.REDISCLI_AUTH
  const password = Option.isSome(c.password) ? c.password.value : env !== undefined && env !== "" ? Redacted.make(env) : undefined
  const tls = c.tls || Option.isSome(c.cacert) || Option.isSome(c.cert)
    ? {
      ...(Option.isSome(c.cacert) ? { caFile: c.cacert.value } : {}),
      ...(Option.isSome(c.cert) ? { certFile: c.cert.value } : {}),
      ...(Option.isSome(c.key) ? { keyFile: c.key.value } : {})
    }
    : undefined
  return {
    connection: {
      ...(password === undefined ? {} : { password }),
      ...(Option.isSome(c.user) ? { username: c.user.value } : {}),
      ...(tls === undefined ? {} : { tls })
    }
  }
}

const yesFlag = Flag.Boolean("cluster-yes").pipe(Flag.withDefault(false), Flag.withDescription("Do not ask for confirmation"))
const node = Argument.String("host:port").pipe(Argument.withDescription("Any node of the cluster"))

/** Shows the plan; without --cluster-yes asks for `yes` on standard input. */
const confirm = (plan: ReadonlyArray<string>, yes: boolean, json: boolean) =>
  Effect.gen(function*() {
    if (!json || !yes) for (const line of plan) yield* Console.error(line)
    if (yes) return
    const answer = yield* Render.ask("Type 'yes' to accept: ")
    if (answer.trim().toLowerCase() !== "yes") return yield* Effect.fail(new Exit(1, "not confirmed: nothing changed"))
  })

const out = (json: boolean, value: unknown, text: () => ReadonlyArray<string>) =>
  json ? Console.log(JSON.stringify(value, Render.jsonReplacer, 2)) : Effect.forEach(text(), (l) => Console.log(l), { discard: true })

// -----------------------------------------------------------------------------
// subcommands
// -----------------------------------------------------------------------------

const create = Command.make("create", {
  ...connectionFlags,
  nodes: Argument.String("host:port").pipe(Argument.variadic({ min: 3 }), Argument.withDescription("Every node of the new cluster")),
  replicas: Flag.Int("cluster-replicas").pipe(Flag.withDefault(0), Flag.withDescription("Replicas per primary")),
  yes: yesFlag
}, (c) =>
  Effect.gen(function*() {
    if (c.replicas < 0) return yield* Effect.fail(new Exit(2, "--cluster-replicas must be 0 or more"))
    const primaries = Math.floor(c.nodes.length / (c.replicas + 1))
    const ranges = primaries >= 3 ? Plan.splitSlots(primaries) : []
    yield* confirm([
      `>>> Creating a cluster of ${c.nodes.length} nodes: ${primaries} primaries, ${c.replicas} replica(s) each`,
      ...c.nodes.slice(0, primaries).map((n, i) => `  primary ${n}: slots ${ranges[i]?.[0]}-${ranges[i]?.[1]}`),
      ...c.nodes.slice(primaries).map((n) => `  replica ${n}`)
    ], c.yes, c.json)
    const report = yield* ClusterAdmin.create({ ...adminOptions(c), nodes: c.nodes, replicasPerPrimary: c.replicas })
    yield* out(c.json, report, () => Render.report(report))
  })).pipe(Command.withDescription("Create a cluster from empty cluster-enabled servers"))

const check = Command.make("check", {
  ...connectionFlags,
  node,
  searchMultipleOwners: Flag.Boolean("cluster-search-multiple-owners").pipe(Flag.withDefault(false), Flag.withDescription("Also report slots claimed by several primaries"))
}, (c) =>
  Effect.gen(function*() {
    const report = yield* ClusterAdmin.check(c.node, adminOptions(c))
    const multi = c.searchMultipleOwners ? yield* ClusterAdmin.multipleOwners(c.node, adminOptions(c)) : []
    yield* out(c.json, { ...report, multipleOwners: multi }, () => [
      ...Render.report(report),
      ...multi.map((m) => `[WARNING] slot ${m.slot} is claimed by ${m.owners.join(", ")}`)
    ])
    if (!report.ok || multi.length > 0) return yield* Effect.fail(new Exit(1, `${report.problems.length + multi.length} problem(s) found`))
  })).pipe(Command.withDescription("Check the cluster (exit code 1 when something is wrong)"))

const info = Command.make("info", { ...connectionFlags, node }, (c) =>
  Effect.gen(function*() {
    const report = yield* ClusterAdmin.info(c.node, adminOptions(c))
    yield* out(c.json, report, () => Render.info(report))
  })).pipe(Command.withDescription("Keys, slots and replicas per primary, and totals"))

const fix = Command.make("fix", {
  ...connectionFlags,
  node,
  searchMultipleOwners: Flag.Boolean("cluster-search-multiple-owners").pipe(Flag.withDefault(false)),
  withUnreachable: Flag.Boolean("cluster-fix-with-unreachable-masters").pipe(Flag.withDefault(false)),
  yes: yesFlag
}, (c) =>
  Effect.gen(function*() {
    const before = yield* ClusterAdmin.check(c.node, adminOptions(c))
    yield* confirm([">>> Fixing the cluster; problems found:", ...before.problems.map((p) => `  ${p.message}`)], c.yes, c.json)
    const result = yield* ClusterAdmin.fix({
      ...adminOptions(c),
      node: c.node,
      searchMultipleOwners: c.searchMultipleOwners,
      withUnreachablePrimaries: c.withUnreachable,
      onProgress: Render.progressLine(c.json)
    })
    yield* out(c.json, result, () => [...result.actions.map((a) => `>>> ${a.message}`), ...Render.report(result.report)])
    if (!result.report.ok) return yield* Effect.fail(new Exit(1, "problems remain after the fix"))
  })).pipe(Command.withDescription("Close open slots, cover uncovered slots"))

const moveFlags = {
  pipeline: Flag.Int("cluster-pipeline").pipe(Flag.withDefault(ClusterAdmin.defaultPipeline), Flag.withDescription("Keys per MIGRATE")),
  timeout: Flag.Int("cluster-timeout").pipe(Flag.withDefault(60000), Flag.withDescription("MIGRATE timeout, ms")),
  replace: Flag.Boolean("cluster-replace").pipe(Flag.withDefault(false), Flag.withDescription("Overwrite keys that exist on the target"))
}

const reshard = Command.make("reshard", {
  ...connectionFlags,
  ...moveFlags,
  node,
  from: Flag.String("cluster-from").pipe(Flag.withDefault("all"), Flag.withDescription("Source primaries (ids or host:port, comma-separated) or all")),
  to: Flag.String("cluster-to").pipe(Flag.withDescription("Target primary (id or host:port)")),
  slots: Flag.Int("cluster-slots").pipe(Flag.withDescription("How many slots to move")),
  yes: yesFlag
}, (c) =>
  Effect.gen(function*() {
    if (c.slots < 1 || c.slots > Plan.SLOTS) return yield* Effect.fail(new Exit(2, `--cluster-slots must be between 1 and ${Plan.SLOTS}`))
    const from = c.from === "all" ? "all" : c.from.split(",").filter((s) => s !== "")
    yield* confirm([`>>> Moving ${c.slots} slots from ${c.from} to ${c.to}`], c.yes, c.json)
    const result = yield* ClusterAdmin.reshard({
      ...adminOptions(c),
      node: c.node,
      to: c.to,
      from,
      slots: c.slots,
      pipeline: c.pipeline,
      migrateTimeout: c.timeout,
      replace: c.replace,
      onProgress: Render.progressLine(c.json)
    })
    yield* out(c.json, result, () => [`[OK] moved ${result.moves.length} slots, ${result.keys} keys`])
  })).pipe(Command.withDescription("Move slots to a primary"))

const rebalance = Command.make("rebalance", {
  ...connectionFlags,
  ...moveFlags,
  node,
  weight: Flag.KeyValuePair("cluster-weight").pipe(Flag.optional, Flag.withDescription("node=weight (repeatable)")),
  useEmpty: Flag.Boolean("cluster-use-empty-masters").pipe(Flag.withDefault(false)),
  threshold: Flag.Finite("cluster-threshold").pipe(Flag.withDefault(ClusterAdmin.defaultThreshold)),
  simulate: Flag.Boolean("cluster-simulate").pipe(Flag.withDefault(false)),
  yes: yesFlag
}, (c) =>
  Effect.gen(function*() {
    const weights: Record<string, number> = {}
    for (const [k, v] of Object.entries(Option.getOrElse(c.weight, () => ({})))) {
      const w = Number(v)
      if (!Number.isFinite(w) || w < 0) return yield* Effect.fail(new Exit(2, `--cluster-weight ${k}=${v}: not a non-negative number`))
      weights[k] = w
    }
    const options = { ...adminOptions(c), node: c.node, weights, threshold: c.threshold, useEmptyPrimaries: c.useEmpty }
    const plan = yield* ClusterAdmin.rebalance({ ...options, simulate: true })
    if (!plan.needed || c.simulate) return yield* out(c.json, plan, () => Render.rebalance(plan))
    yield* confirm(Render.rebalance(plan), c.yes, c.json)
    const result = yield* ClusterAdmin.rebalance({
      ...options,
      pipeline: c.pipeline,
      migrateTimeout: c.timeout,
      replace: c.replace,
      onProgress: Render.progressLine(c.json)
    })
    yield* out(c.json, result, () => [`[OK] moved ${result.moves.length} slots`])
  })).pipe(Command.withDescription("Even out the slots over the primaries by weight"))

const addNode = Command.make("add-node", {
  ...connectionFlags,
  newNode: Argument.String("new_host:new_port"),
  existing: Argument.String("existing_host:existing_port"),
  replica: Flag.Boolean("cluster-slave").pipe(Flag.withDefault(false), Flag.withAlias("cluster-replica")),
  primaryId: Flag.optional(Flag.String("cluster-master-id"))
}, (c) =>
  Effect.gen(function*() {
    const added = yield* ClusterAdmin.addNode({
      ...adminOptions(c),
      node: c.newNode,
      existing: c.existing,
      ...(Option.isSome(c.primaryId) ? { replicaOf: c.primaryId.value } : {}),
      asReplica: c.replica
    })
    yield* out(c.json, added, () => [`[OK] ${added.address} (${added.id}) joined as a ${added.role}${added.primaryId === undefined ? "" : ` of ${added.primaryId}`}`])
  })).pipe(Command.withDescription("Add an empty node as a primary or a replica"))

const delNode = Command.make("del-node", {
  ...connectionFlags,
  existing: Argument.String("host:port"),
  nodeId: Argument.String("node_id"),
  shutdown: Flag.Boolean("shutdown").pipe(Flag.withDefault(false), Flag.withDescription("Shut the removed node down")),
  yes: yesFlag
}, (c) =>
  Effect.gen(function*() {
    yield* confirm([`>>> Removing ${c.nodeId} from the cluster of ${c.existing}`], c.yes, c.json)
    const removed = yield* ClusterAdmin.removeNode({ ...adminOptions(c), node: c.nodeId, existing: c.existing, shutdown: c.shutdown })
    yield* out(c.json, removed, () => [`[OK] ${removed.address} (${removed.id}) removed${removed.unreachable ? " (it was unreachable: forgotten only)" : ""}`])
  })).pipe(Command.withDescription("Remove a node (a replica or an empty primary; reachable or not)"))

const call = Command.make("call", {
  ...connectionFlags,
  node,
  command: Argument.String("command").pipe(Argument.variadic({ min: 1 })),
  onlyPrimaries: Flag.Boolean("cluster-only-masters").pipe(Flag.withDefault(false)),
  onlyReplicas: Flag.Boolean("cluster-only-replicas").pipe(Flag.withDefault(false))
}, (c) =>
  Effect.gen(function*() {
    if (c.onlyPrimaries && c.onlyReplicas) return yield* Effect.fail(new Exit(2, "--cluster-only-masters and --cluster-only-replicas exclude each other"))
    const replies = yield* ClusterAdmin.call({
      ...adminOptions(c),
      node: c.node,
      command: c.command,
      nodes: c.onlyPrimaries ? "primaries" : c.onlyReplicas ? "replicas" : "all"
    })
    yield* out(c.json, replies, () => replies.map((r) => `${r.address}: ${r.ok ? JSON.stringify(r.reply) : `(error) ${r.error}`}`))
    if (replies.some((r) => !r.ok)) return yield* Effect.fail(new Exit(1, "some nodes replied with an error"))
  })).pipe(Command.withDescription("Run one command on every node"))

const setTimeoutCommand = Command.make("set-timeout", {
  ...connectionFlags,
  node,
  millis: Argument.Int("milliseconds")
}, (c) =>
  Effect.gen(function*() {
    const result = yield* ClusterAdmin.setTimeout({ ...adminOptions(c), node: c.node, nodeTimeout: c.millis })
    yield* out(c.json, result, () =>
      result.nodes.map((n) => `${n.address}: ${n.set ? "set" : "NOT set"}${n.persisted ? ", persisted" : ""}${n.error === undefined ? "" : ` (${n.error})`}`))
    if (!result.ok) return yield* Effect.fail(new Exit(1, "some nodes did not take the new timeout"))
  })).pipe(Command.withDescription("Set cluster-node-timeout on every node"))

const importCommand = Command.make("import", {
  ...connectionFlags,
  node,
  from: Flag.String("cluster-from").pipe(Flag.withDescription("The standalone server to import from (host:port)")),
  fromUser: Flag.optional(Flag.String("cluster-from-user").pipe(Flag.withDescription("ACL user on the source"))),
  fromPass: Flag.optional(Flag.Redacted("cluster-from-pass").pipe(Flag.withDescription("Password on the source"))),
  fromAskPass: Flag.Boolean("cluster-from-askpass").pipe(Flag.withDefault(false), Flag.withDescription("Not supported: pass --cluster-from-pass")),
  copy: Flag.Boolean("cluster-copy").pipe(Flag.withDefault(false), Flag.withDescription("Keep the keys on the source")),
  replace: Flag.Boolean("cluster-replace").pipe(Flag.withDefault(false), Flag.withDescription("Overwrite keys that exist in the cluster")),
  timeout: Flag.Int("cluster-timeout").pipe(Flag.withDefault(60000), Flag.withDescription("MIGRATE timeout, ms")),
  batch: Flag.Int("cluster-batch").pipe(Flag.withDefault(1000), Flag.withDescription("Keys per SCAN round"))
}, (c) =>
  Effect.gen(function*() {
    if (c.fromAskPass) return yield* Effect.fail(new Exit(2, "--cluster-from-askpass is not supported; pass --cluster-from-pass"))
    if (c.batch < 1) return yield* Effect.fail(new Exit(2, "--cluster-batch must be 1 or more"))
    const options = adminOptions(c)
    const fromConnection = Option.isSome(c.fromPass) || Option.isSome(c.fromUser)
      ? {
        ...options.connection,
        ...(Option.isSome(c.fromPass) ? { password: c.fromPass.value } : {}),
        ...(Option.isSome(c.fromUser) ? { username: c.fromUser.value } : {})
      }
      : undefined
    const result = yield* ClusterAdmin.importKeys({
      ...options,
      node: c.node,
      from: c.from,
      fromConnection,
      copy: c.copy,
      replace: c.replace,
      migrateTimeout: c.timeout,
      batch: c.batch,
      onProgress: Render.progressLine(c.json)
    })
    if (!c.json) for (const f of result.failed) yield* Console.error(`[ERR] ${JSON.stringify(f.key)} -> ${f.target}: ${f.error}`)
    yield* out(c.json, result, () => [`[OK] imported ${result.imported} of ${result.scanned} keys${result.failed.length > 0 ? `, ${result.failed.length} failed` : ""}`])
    if (result.failed.length > 0) return yield* Effect.fail(new Exit(1, `${result.failed.length} key(s) were not imported`))
  })).pipe(Command.withDescription("Import the keys of a standalone server into the cluster"))

const backupCommand = Command.make("backup", {
  ...connectionFlags,
  node,
  folder: Argument.String("backup_directory").pipe(Argument.withDescription("Folder for the RDB files and nodes.json"))
}, (c) =>
  Effect.gen(function*() {
    const result = yield* ClusterAdmin.backup({ ...adminOptions(c), node: c.node, folder: c.folder, onProgress: Render.progressLine(c.json) })
    yield* out(c.json, result, () => [
      ...result.files.map((f) => `${f.address} (${f.id.slice(0, 8)}...) -> ${f.path} (${f.bytes} bytes)`),
      `[OK] backup of ${result.files.length} primaries and ${result.nodesFile} written.`
    ])
  })).pipe(Command.withDescription("Save every primary's RDB and the node table (nodes.json) into a folder"))

/**
 * The command tree: `redis-effect cluster <subcommand>`.
 *
 * @category commands
 * @since 0.1.0
 */
export const command = Command.make("redis-effect").pipe(
  Command.withDescription("Redis tools built on redis-effect"),
  Command.withSubcommands([
    Command.make("cluster").pipe(
      Command.withDescription("Redis Cluster administration, like redis-cli --cluster"),
      Command.withSubcommands([create, check, info, fix, reshard, rebalance, addNode, delNode, call, setTimeoutCommand, importCommand, backupCommand])
    )
  ])
)

/**
 * The exit code for how a run ended (see the module comment).
 *
 * @category running
 * @since 0.1.0
 */
export const exitCodeOf = (error: unknown): { readonly code: 0 | 1 | 2; readonly message: string | undefined } => {
  if (error instanceof Exit) return { code: error.code, message: error.message }
  if (RedisError.isRedisError(error)) {
    const tag = error.reason._tag
    const usage = tag === "InvalidArgument" || tag === "AuthError" || tag === "ConnectionError"
    return { code: usage ? 2 : 1, message: error.message }
  }
  // effect/cli errors (parse errors, unknown subcommands, missing arguments) were already shown with the help.
  return { code: 2, message: undefined }
}

/**
 * Runs the tool with `args` (without `node` and the script).
 *
 * @category running
 * @since 0.1.0
 */
export const run = (args: ReadonlyArray<string>) =>
  Command.runWith(command, { version: "0.1.0" })(args) as Effect.Effect<void, unknown, Command.Environment | Transport>
