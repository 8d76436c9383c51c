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
export * from "./internal/commands/strings.ts"
export * from "./internal/commands/keys.ts"
export * from "./internal/commands/hashes.ts"
export * from "./internal/commands/lists.ts"
export * from "./internal/commands/sets.ts"
export * from "./internal/commands/sortedSets.ts"
export * from "./internal/commands/bitmaps.ts"
export * from "./internal/commands/hyperloglog.ts"
export * from "./internal/commands/geo.ts"
export * from "./internal/commands/streams.ts"
export * from "./internal/commands/scripting.ts"
export * from "./internal/commands/pubsub.ts"
export * from "./internal/commands/transactions.ts"
export * from "./internal/commands/server.ts"
export * from "./internal/commands/connection.ts"
