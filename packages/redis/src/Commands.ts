/**
 * Typed constructors for Redis commands, one function per command, grouped
 * by family in `commands/`. Each returns a `Command<A>` value: data that any
 * topology (standalone, cluster, sentinel) can route and send. Nothing here
 * performs I/O.
 *
 * Naming: the command in camelCase (`hgetall`, `clientList`, `xgroupCreate`);
 * a `Bytes` suffix for the variant that returns values as `Uint8Array`
 * (`getBytes`, `hgetallBytes`); `evalScript` for EVAL, whose name is reserved.
 *
 * The pure reply parsers (`parseInfo`, `parseClientList`) are re-exported
 * from `commands/parsers.ts`; every other export is a command constructor
 * (the `Redis` service has one method per constructor).
 *
 * @since 0.1.0
 */
export * from "./commands/strings.ts"
export * from "./commands/keys.ts"
export * from "./commands/hashes.ts"
export * from "./commands/lists.ts"
export * from "./commands/sets.ts"
export * from "./commands/sortedSets.ts"
export * from "./commands/bitmaps.ts"
export * from "./commands/hyperloglog.ts"
export * from "./commands/geo.ts"
export * from "./commands/streams.ts"
export * from "./commands/scripting.ts"
export * from "./commands/pubsub.ts"
// Named, not `*`: `execBytes` there is internal to `Transaction`.
export { discard, exec, multi, unwatch, watch } from "./commands/transactions.ts"
export * from "./commands/server.ts"
export * from "./commands/connection.ts"
export * from "./commands/parsers.ts"
export * from "./commands/sentinel.ts"
