/**
 * Typed constructors for Redis commands, one function per command, grouped
 * by family in `internal/commands/`. Each returns a `Command<A>` value: data
 * that any topology (standalone, cluster, sentinel) can route and send.
 * Nothing here performs I/O.
 *
 * Naming: the command in camelCase (`hgetall`, `clientList`, `xgroupCreate`);
 * a `Bytes` suffix for the variant that returns values as `Uint8Array`
 * (`getBytes`, `hgetallBytes`); `evalScript` for EVAL, whose name is reserved.
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
export * from "./commands/transactions.ts"
export * from "./commands/server.ts"
export * from "./commands/connection.ts"
