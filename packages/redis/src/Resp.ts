/**
 * RESP2 and RESP3: the value model, the command encoder and the incremental
 * reply decoder.
 *
 * Every function here is pure: bytes in, bytes or plain data out. Nothing
 * here opens a socket, allocates a timer or runs an Effect.
 *
 * @since 0.1.0
 */

// -----------------------------------------------------------------------------
// values
// -----------------------------------------------------------------------------

/**
 * A decoded reply. The common types map to plain JavaScript values so the hot
 * path allocates nothing extra; the rarer RESP3 aggregates get small classes
 * so they stay distinguishable.
 *
 * | RESP                         | value                                        |
 * |------------------------------|----------------------------------------------|
 * | simple string `+`            | `string`                                     |
 * | bulk string `$`              | `string` or `Uint8Array` (decoder's mode)    |
 * | verbatim string `=`          | `string` or `Uint8Array` (format dropped)    |
 * | integer `:`                  | `number` (`bigint` beyond 2^53)              |
 * | double `,`                   | `number` (`inf`, `-inf`, `nan` included)     |
 * | big number `(`               | `bigint`                                     |
 * | boolean `#`                  | `boolean`                                    |
 * | null `_`, `$-1`, `*-1`       | `null`                                       |
 * | array `*`                    | `Array<RespValue>`                           |
 * | map `%`                      | `RespMap`                                    |
 * | set `~`                      | `RespSet`                                    |
 * | push `>`                     | `RespPush`                                   |
 * | error `-`, bulk error `!`    | `RespError` (a value, never thrown)          |
 * | attribute `|`                | dropped; the value it annotates is returned  |
 *
 * @category models
 * @since 0.1.0
 */
export type RespValue =
  | string
  | Uint8Array
  | number
  | bigint
  | boolean
  | null
  | ReadonlyArray<RespValue>
  | RespMap
  | RespSet
  | RespPush
  | RespError

/**
 * A RESP3 map, kept as a flat `[k0, v0, k1, v1, ...]` array so that RESP2
 * replies (flat arrays) and RESP3 replies read the same way.
 *
 * @category models
 * @since 0.1.0
 */
export class RespMap {
  readonly flat: ReadonlyArray<RespValue>
  constructor(flat: ReadonlyArray<RespValue>) {
    this.flat = flat
  }
}

/**
 * A RESP3 set.
 *
 * @category models
 * @since 0.1.0
 */
export class RespSet {
  readonly items: ReadonlyArray<RespValue>
  constructor(items: ReadonlyArray<RespValue>) {
    this.items = items
  }
}

/**
 * A RESP3 out-of-band push (pub/sub message, invalidation, ...). The
 * connection routes these apart from replies.
 *
 * @category models
 * @since 0.1.0
 */
export class RespPush {
  readonly items: ReadonlyArray<RespValue>
  constructor(items: ReadonlyArray<RespValue>) {
    this.items = items
  }
}

/**
 * A server error reply. `message` is the text after `-` or the body of `!`.
 *
 * @category models
 * @since 0.1.0
 */
export class RespError {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/**
 * An argument of a command: strings are sent as UTF-8, numbers in decimal.
 *
 * @category models
 * @since 0.1.0
 */
export type Arg = string | Uint8Array | number
