/**
 * The cluster as its nodes describe it, as plain data: parsing `CLUSTER
 * NODES`, slot arithmetic, and the settle rule, which says why the views
 * that the live nodes report do not (yet) agree.
 *
 * Every function is pure: replies in, data out. Nothing here runs
 * `redis-cli` or waits; `settle.ts` polls the nodes and feeds their replies
 * to `disagreements`.
 *
 * @internal
 */
import type * as Result from "effect/Result"
import type { ClusterNodesEntry } from "../../RedisCluster.ts"
import type { ServerError } from "../../ServerError.ts"

/** The number of hash slots. */
// Not `ClusterSlot.SLOTS` from @redis-effect/redis: this package must not depend on the client it tests.
export const SLOTS = 16_384

/**
 * Parses a `CLUSTER NODES` reply. Slot ranges are inclusive; the bracketed
 * `[slot->-id]` / `[slot-<-id]` entries go to `migrating` / `importing`.
 */
// Not the client's topology parser (`cluster/ClusterView.ts`): this package must not depend on the client it tests.
export const parseClusterNodes = (text: string): ReadonlyArray<ClusterNodesEntry> => {
  const entries: Array<ClusterNodesEntry> = []
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(" ")
    if (fields.length < 8) continue
    const [id, address, flags, primary, , , epoch, linkState, ...slotFields] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      ...Array<string>
    ]
    // ip:port@cport[,hostname]
    const hostPort = address.split(",")[0]!
    const at = hostPort.lastIndexOf("@")
    const colon = hostPort.lastIndexOf(":", at === -1 ? undefined : at)
    const slots: Array<readonly [number, number]> = []
    const migrating: Array<{ slot: number; to: string }> = []
    const importing: Array<{ slot: number; from: string }> = []
    for (const field of slotFields) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(field)
      if (open !== null) {
        if (open[2] === ">") migrating.push({ slot: Number(open[1]), to: open[3]! })
        else importing.push({ slot: Number(open[1]), from: open[3]! })
        continue
      }
      const dash = field.indexOf("-")
      if (dash === -1) slots.push([Number(field), Number(field)])
      else slots.push([Number(field.slice(0, dash)), Number(field.slice(dash + 1))])
    }
    entries.push({
      id,
      host: hostPort.slice(0, colon),
      port: Number(hostPort.slice(colon + 1, at === -1 ? undefined : at)),
      busPort: at === -1 ? 0 : Number(hostPort.slice(at + 1)),
      flags: flags.split(","),
      primaryId: primary === "-" ? undefined : primary,
      configEpoch: Number(epoch),
      linkState,
      slots,
      migrating,
      importing
    })
  }
  return entries
}

/** Number of slots in inclusive ranges. */
export const slotCount = (ranges: ReadonlyArray<readonly [number, number]>): number =>
  ranges.reduce((n, [a, b]) => n + b - a + 1, 0)

export const ownsSlot = (entry: ClusterNodesEntry, slot: number): boolean =>
  entry.slots.some(([a, b]) => slot >= a && slot <= b)

export const isPrimaryEntry = (entry: ClusterNodesEntry): boolean => entry.flags.includes("master")

/** Whether `id`'s own line in `views` (what the node says of itself) is a primary. */
export const isPrimaryNow = (views: Views, id: string): boolean => {
  const own = views.get(id)?.find((e) => e.id === id)
  return own !== undefined && isPrimaryEntry(own)
}

/** Flags that mean a node's view of another node is not settled. */
const UNSETTLED_FLAGS = ["fail", "fail?", "handshake", "noaddr"]

/** `CLUSTER NODES` of every live node that answered, by the answering node's id. */
export type Views = ReadonlyMap<string, ReadonlyArray<ClusterNodesEntry>>

/** A condition beyond the settle rule: why it does not hold yet, or undefined when it does. */
export type ViewCheck = (views: Views) => string | undefined

/** What one live node answered when asked about the cluster. */
export interface NodeReport {
  /** `CLUSTER INFO`, parsed. */
  readonly clusterInfo: Record<string, string>
  /** `CLUSTER NODES`, parsed. */
  readonly view: ReadonlyArray<ClusterNodesEntry>
  /** `INFO replication`, parsed. */
  readonly replication: Record<string, string>
}

/** One live node and its answer (or why it did not answer). */
export interface Probe {
  readonly id: string
  /** `127.0.0.1:port`, for messages. */
  readonly name: string
  readonly answer: Result.Result<NodeReport, ServerError>
}

/**
 * The settle rule. Every live node must answer, report `cluster_state:ok`,
 * have its replica link up if it is a replica, and describe every live node
 * the same way (role, primary, slot ranges) without a `fail`, `fail?`,
 * `handshake` or `noaddr` flag; the live primaries must cover every slot.
 * Only live nodes count: a killed node may still be listed, flagged `fail`.
 *
 * Returns the problems (empty when settled) and the views that answered.
 */
export const disagreements = (
  probes: ReadonlyArray<Probe>
): { readonly problems: ReadonlyArray<string>; readonly views: Views } => {
  const views = new Map<string, ReadonlyArray<ClusterNodesEntry>>()
  const problems: Array<string> = []
  const liveIds = probes.map((p) => p.id).sort()
  let reference: string | undefined
  for (const { answer, id: nodeId, name } of probes) {
    if (answer._tag === "Failure") {
      problems.push(`${name} does not answer: ${answer.failure.message}`)
      continue
    }
    const { clusterInfo, replication, view } = answer.success
    views.set(nodeId, view)
    if (clusterInfo.cluster_state !== "ok") problems.push(`${name} cluster_state:${clusterInfo.cluster_state}`)
    if (replication.role === "slave" && replication.master_link_status !== "up") {
      problems.push(`${name} master_link_status:${replication.master_link_status}`)
    }
    // What this node believes about every live node; all must agree.
    const lines: Array<string> = []
    for (const id of liveIds) {
      const entry = view.find((e) => e.id === id)
      if (entry === undefined) {
        problems.push(`${name} does not know ${id}`)
        continue
      }
      const bad = entry.flags.filter((f) => UNSETTLED_FLAGS.includes(f))
      if (bad.length > 0) problems.push(`${name} flags ${id} ${bad.join(",")}`)
      const role = isPrimaryEntry(entry) ? "primary" : `replica-of-${entry.primaryId}`
      lines.push(`${id} ${role} ${entry.slots.map(([a, b]) => `${a}-${b}`).join(",")}`)
    }
    const signature = lines.join("\n")
    if (reference === undefined) {
      reference = signature
      const covered = slotCount(view.filter((e) => liveIds.includes(e.id) && isPrimaryEntry(e)).flatMap((e) => e.slots))
      if (covered !== SLOTS) problems.push(`live primaries cover ${covered} of ${SLOTS} slots`)
    } else if (signature !== reference) {
      problems.push(`${name} disagrees about roles or slots`)
    }
  }
  return { problems, views }
}
