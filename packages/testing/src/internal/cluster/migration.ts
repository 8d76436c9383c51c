/**
 * Live slot migration in a cluster fixture, the way `redis-cli` and the
 * Redis manual do it: `SETSLOT IMPORTING` on the target, `SETSLOT MIGRATING`
 * on the source, `MIGRATE` the keys in batches, then `SETSLOT NODE` on every
 * primary. Exposed whole (`migrateSlots`), stepwise (so a test can hold a
 * slot open while traffic runs), and as `redis-cli --cluster reshard`.
 *
 * Keys are listed with `CLUSTER GETKEYSINSLOT` through `redis-cli`, one per
 * line: keys that contain a newline cannot be migrated here. Nodes are not
 * started or removed here (`membership.ts`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { ClusterNode, RedisClusterHandle, SlotMove } from "../../RedisCluster.ts"
import { fail, type Fleet } from "./fleet.ts"
import type { Settler } from "./settle.ts"
import { ownsSlot, type ViewCheck } from "./view.ts"

/** Settled means, in addition: `owner` owns every one of `slots` and has no slot open. */
const ownerCheck = (slots: ReadonlyArray<number>, owner: ClusterNode): ViewCheck => (views) => {
  const own = views.get(owner.id)?.find((e) => e.id === owner.id)
  const missing = slots.filter((s) => own === undefined || !ownsSlot(own, s))
  if (missing.length > 0) return `127.0.0.1:${owner.port} does not own slots ${missing.slice(0, 5).join(",")} yet`
  if (own !== undefined && (own.importing.length > 0 || own.migrating.length > 0)) {
    return `127.0.0.1:${owner.port} still has open slots`
  }
  return undefined
}

export const make = (
  fleet: Fleet,
  { settle }: Settler
): Pick<RedisClusterHandle, "migrateSlots" | "beginMigration" | "migrateKeys" | "finishMigration" | "reshard"> => {
  const beginMigration = ({ from, slot, to }: SlotMove) =>
    Effect.gen(function*() {
      // Target first: a client redirected by ASK must find the slot importing.
      yield* to.cli("CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id)
      yield* from.cli("CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id)
    })

  const migrateKeys = ({ from, pipeline = 10, slot, to }: SlotMove & { readonly pipeline?: number | undefined }) =>
    Effect.gen(function*() {
      let moved = 0
      while (true) {
        const reply = yield* from.cli("CLUSTER", "GETKEYSINSLOT", String(slot), String(pipeline))
        const keys = reply.split("\n").filter((k) => k.length > 0)
        if (keys.length === 0) return moved
        const auth = fleet.password === undefined ? [] : ["AUTH", fleet.password]
        const args = ["MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", ...auth, "KEYS", ...keys]
        // Through stdin: the AUTH password must not show in `ps`.
        const answer = yield* fleet.cli.stdin(from.port, args)
        if (answer !== "OK" && answer !== "NOKEY") {
          return yield* fail(`RedisCluster.migrateKeys: MIGRATE of slot ${slot} to 127.0.0.1:${to.port}: ${answer}`)
        }
        moved += keys.length
      }
    })

  /** SETSLOT NODE everywhere it matters, without waiting for gossip. */
  const assignSlot = ({ from, slot, to }: SlotMove) =>
    Effect.gen(function*() {
      // Target first, so that it owns the slot before the source starts
      // answering MOVED; then the source; then every other primary, so no
      // one has to learn it from gossip.
      yield* to.cli("CLUSTER", "SETSLOT", String(slot), "NODE", to.id)
      yield* from.cli("CLUSTER", "SETSLOT", String(slot), "NODE", to.id)
      for (const primary of yield* fleet.withRole("primary")) {
        if (primary.id === to.id || primary.id === from.id) continue
        yield* primary.cli("CLUSTER", "SETSLOT", String(slot), "NODE", to.id)
      }
    })

  const ownedSlots = (node: ClusterNode) =>
    Effect.map(fleet.clusterNodes(node), (view) => {
      const own = view.find((e) => e.id === node.id)
      const slots = new Set<number>()
      for (const [a, b] of own?.slots ?? []) for (let s = a; s <= b; s++) slots.add(s)
      return slots
    })

  return {
    beginMigration,
    migrateKeys,
    finishMigration: (move) =>
      Effect.andThen(
        assignSlot(move),
        settle(`finishing the migration of slot ${move.slot}`, ownerCheck([move.slot], move.to))
      ),
    migrateSlots: ({ from, pipeline, slots, to }) =>
      Effect.gen(function*() {
        for (const slot of slots) {
          yield* beginMigration({ from, to, slot })
          yield* migrateKeys({ from, to, slot, pipeline })
          yield* assignSlot({ from, to, slot })
        }
        yield* settle(`migrating ${slots.length} slots to 127.0.0.1:${to.port}`, ownerCheck(slots, to))
      }),
    reshard: ({ count, from, pipeline, to }) =>
      Effect.gen(function*() {
        const before = yield* ownedSlots(to)
        yield* fleet.cli.cluster([
          "reshard", `127.0.0.1:${from.port}`,
          "--cluster-from", from.id,
          "--cluster-to", to.id,
          "--cluster-slots", String(count),
          "--cluster-yes",
          ...(pipeline === undefined ? [] : ["--cluster-pipeline", String(pipeline)])
        ])
        yield* settle(`reshard of ${count} slots to 127.0.0.1:${to.port}`)
        const after = yield* ownedSlots(to)
        return [...after].filter((s) => !before.has(s)).sort((a, b) => a - b)
      })
  }
}
