/**
 * HyperLogLog commands: approximate distinct counts.
 *
 * Each function builds a `Command` value and sends nothing. PFCOUNT over
 * several keys merges them on the fly; in a cluster the keys must share a
 * slot (the router checks that, not this module).
 *
 * @since 0.1.0
 */
import { Reply, unsafeMake } from "../Command.ts"
import type { Command } from "../Command.ts"
import type { Arg } from "../Resp.ts"
import { many, needsOne, type OneOrMany, pushAll, RO, WI, withWord } from "../internal/decoders.ts"

/**
 * PFADD: adds elements (none: only creates the key); `true` if the estimate changed.
 *
 * @category hyperloglog
 * @since 0.1.0
 */
export const pfadd = (key: Arg, elements?: OneOrMany<Arg>): Command<boolean> => {
  const args: Array<Arg> = ["PFADD", key]
  if (elements !== undefined) pushAll(args, many(elements))
  return unsafeMake("PFADD", args, [key], WI, Reply.boolean)
}

/**
 * PFCOUNT: the approximate number of distinct elements (of the union, for several keys).
 *
 * @category hyperloglog
 * @since 0.1.0
 */
export const pfcount = (keys: OneOrMany<Arg>): Command<number> => {
  const ks = many(keys)
  return ks.length === 0 ? needsOne("PFCOUNT", "key") : unsafeMake("PFCOUNT", withWord("PFCOUNT", ks), ks, RO, Reply.integer)
}

/**
 * PFMERGE: merges HyperLogLogs into `destination` (which is included in the union).
 *
 * @category hyperloglog
 * @since 0.1.0
 */
export const pfmerge = (destination: Arg, sources: OneOrMany<Arg>): Command<void> => {
  const args: Array<Arg> = ["PFMERGE", destination]
  pushAll(args, many(sources))
  return unsafeMake("PFMERGE", args, args.slice(1), WI, Reply.ok)
}
