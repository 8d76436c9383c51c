/**
 * What the `redis-effect` tool prints: check and info reports as lines in
 * redis-cli's style, the rebalance plan, progress (a bar with rate and ETA
 * on a terminal, plain lines otherwise, nothing with `--json`), the JSON
 * replacer (maps as objects) and the confirmation question.
 *
 * It decides nothing and changes no cluster.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ReadLine from "node:readline"
import type * as ClusterAdmin from "../ClusterAdmin.ts"
import * as Plan from "./plan.ts"

/** JSON.stringify replacer: Maps as objects, bigints as text. @internal */
export const jsonReplacer = (_key: string, value: unknown): unknown =>
  value instanceof Map ? Object.fromEntries(value) : typeof value === "bigint" ? value.toString() : value

/** @internal */
export const report = (r: ClusterAdmin.CheckReport): Array<string> => [
  ...r.primaries.map((p) => `${p.address} (${p.id.slice(0, 8)}...) -> ${p.slots} slots | ${p.replicas.length} replica(s)`),
  ...r.problems.map((p) => `[ERR] ${p.message}`),
  r.coveredSlots === Plan.SLOTS ? `[OK] All ${Plan.SLOTS} slots covered.` : `[ERR] Not all ${Plan.SLOTS} slots are covered.`,
  r.ok ? "[OK] No problems." : `[ERR] ${r.problems.length} problem(s).`
]

/** @internal */
export const info = (r: ClusterAdmin.InfoReport): Array<string> => [
  ...r.primaries.map((p) =>
    `${p.address} (${p.id.slice(0, 8)}...) -> ${p.keys ?? "?"} keys | ${p.slots} slots | ${p.replicas} replica(s).`),
  `[OK] ${r.totals.keys} keys in ${r.totals.primaries} primaries.`,
  `${r.totals.keysPerSlot.toFixed(2)} keys per slot on average.`,
  ...r.unreachable.map((u) => `[ERR] ${u}`)
]

/** @internal */
export const rebalance = (r: ClusterAdmin.RebalanceResult): Array<string> =>
  r.needed
    ? [">>> Rebalancing across primaries:", ...r.transfers.map((t) => `  move ${t.count} slots from ${t.from.slice(0, 8)} to ${t.to.slice(0, 8)}`)]
    : ["*** No rebalancing needed: every primary is within the threshold."]

const bar = (p: ClusterAdmin.Progress, width = 30): string => {
  const ratio = p.total === 0 ? 1 : Math.min(1, p.done / p.total)
  const filled = Math.round(ratio * width)
  const eta = p.rate > 0 ? Math.max(0, (p.total - p.done) / p.rate) : Number.NaN
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.done}/${p.total} ${p.unit} | ${p.keys} keys | ${
    p.rate.toFixed(1)
  } ${p.unit}/s | ${p.keysPerSecond.toFixed(0)} keys/s | ETA ${Number.isNaN(eta) ? "?" : `${eta.toFixed(0)}s`}`
}

/**
 * Progress on standard error: a redrawn bar on a terminal, one plain line
 * per event otherwise; nothing with `--json` (stdout stays one document).
 *
 * @internal
 */
export const progressLine = (json: boolean): ClusterAdmin.OnProgress | undefined => {
  if (json) return undefined
  const tty = process.stderr.isTTY === true
  return (p) =>
    Effect.sync(() => {
      if (tty) {
        process.stderr.write(`\r${bar(p)}\x1b[K${p.done >= p.total ? "\n" : ""}`)
      } else {
        process.stderr.write(`${p.operation}: ${p.done}/${p.total} ${p.unit}, ${p.keys} keys, ${p.rate.toFixed(1)} ${p.unit}/s: ${p.detail}\n`)
      }
    })
}

/** One line from standard input (empty at end of input). @internal */
export const ask = (question: string): Effect.Effect<string> =>
  Effect.callback<string>((resume) => {
    process.stderr.write(question)
    const rl = ReadLine.createInterface({ input: process.stdin })
    let answered = false
    rl.once("line", (line) => {
      answered = true
      rl.close()
      resume(Effect.succeed(line))
    })
    rl.once("close", () => {
      if (!answered) resume(Effect.succeed(""))
    })
    return Effect.sync(() => rl.close())
  })
