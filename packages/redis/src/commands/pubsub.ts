/**
 * Pub/sub commands: PUBLISH, SPUBLISH, PUBSUB introspection, and the
 * subscriber-mode commands (SUBSCRIBE and friends) as plain values.
 *
 * This module does not subscribe to anything: the subscription machinery
 * (a connection in subscriber mode, the message `Stream`, resubscribing
 * after a reconnect) lives in `PubSub`, which is the only sender of the
 * `PUBSUB`-flagged commands built here. Their replies arrive as pushes, so
 * their decoder is `Reply.raw`.
 *
 * Channels are not keys, except for the sharded commands (SPUBLISH,
 * SSUBSCRIBE, SUNSUBSCRIBE), whose channel is routed by its hash slot like a
 * key. PUBLISH is not idempotent: a resend delivers the message twice.
 *
 * @since 0.1.0
 */
import type { Command } from "../Command.ts"
import { Flags, invalid, Reply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { integerRecord, stringArray } from "../internal/replyDecoders.ts"

const EMPTY: ReadonlyArray<Arg> = []

// -----------------------------------------------------------------------------
// publishing
// -----------------------------------------------------------------------------

/**
 * PUBLISH: sends a message to a channel; returns how many clients received
 * it (on the node that answered).
 *
 * @category pubsub
 * @since 0.1.0
 */
export const publish = (channel: Arg, message: Arg): Command<number> =>
  unsafeMake("PUBLISH", ["PUBLISH", channel, message], EMPTY, Flags.NO_KEYS, Reply.integer)

/**
 * SPUBLISH: sends a message to a shard channel, routed by the channel's slot.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const spublish = (shardChannel: Arg, message: Arg): Command<number> =>
  unsafeMake("SPUBLISH", ["SPUBLISH", shardChannel, message], [shardChannel], 0, Reply.integer)

// -----------------------------------------------------------------------------
// PUBSUB introspection
// -----------------------------------------------------------------------------

/**
 * PUBSUB CHANNELS: active channels, optionally matching a glob pattern.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const pubsubChannels = (pattern?: string): Command<Array<string>> =>
  unsafeMake(
    "PUBSUB",
    pattern === undefined ? ["PUBSUB", "CHANNELS"] : ["PUBSUB", "CHANNELS", pattern],
    EMPTY,
    Flags.READONLY | Flags.NO_KEYS,
    stringArray
  )

/**
 * PUBSUB NUMSUB: the subscriber count of each channel.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const pubsubNumsub = (channels: ReadonlyArray<Arg>): Command<Record<string, number>> =>
  unsafeMake("PUBSUB", ["PUBSUB", "NUMSUB", ...channels], EMPTY, Flags.READONLY | Flags.NO_KEYS, integerRecord)

/**
 * PUBSUB NUMPAT: the number of pattern subscriptions.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const pubsubNumpat = (): Command<number> =>
  unsafeMake("PUBSUB", ["PUBSUB", "NUMPAT"], EMPTY, Flags.READONLY | Flags.NO_KEYS, Reply.integer)

/**
 * PUBSUB SHARDCHANNELS: active shard channels (of the node that answers),
 * optionally matching a pattern.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const pubsubShardchannels = (pattern?: string): Command<Array<string>> =>
  unsafeMake(
    "PUBSUB",
    pattern === undefined ? ["PUBSUB", "SHARDCHANNELS"] : ["PUBSUB", "SHARDCHANNELS", pattern],
    EMPTY,
    Flags.READONLY | Flags.NO_KEYS,
    stringArray
  )

/**
 * PUBSUB SHARDNUMSUB: the subscriber count of each shard channel; the
 * channels are keys, so in a cluster they must share a slot.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const pubsubShardnumsub = (shardChannels: ReadonlyArray<Arg>): Command<Record<string, number>> =>
  unsafeMake(
    "PUBSUB",
    ["PUBSUB", "SHARDNUMSUB", ...shardChannels],
    shardChannels,
    shardChannels.length === 0 ? Flags.READONLY | Flags.NO_KEYS : Flags.READONLY,
    integerRecord
  )

// -----------------------------------------------------------------------------
// subscriber mode
// -----------------------------------------------------------------------------

const subscribeCommand = (
  name: string,
  channels: ReadonlyArray<Arg>,
  sharded: boolean,
  allowEmpty: boolean
): Command<RespValue> => {
  if (!allowEmpty && channels.length === 0) return invalid(name, `${name} needs at least one channel`)
  return unsafeMake(
    name,
    [name, ...channels],
    sharded ? channels : EMPTY,
    sharded && channels.length > 0 ? Flags.PUBSUB : Flags.PUBSUB | Flags.NO_KEYS,
    Reply.raw
  )
}

/**
 * SUBSCRIBE: subscribes the connection to channels (for `PubSub` only).
 *
 * @category pubsub
 * @since 0.1.0
 */
export const subscribe = (channels: ReadonlyArray<Arg>): Command<RespValue> =>
  subscribeCommand("SUBSCRIBE", channels, false, false)

/**
 * UNSUBSCRIBE: unsubscribes from channels, or from all when none is given.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const unsubscribe = (channels: ReadonlyArray<Arg> = EMPTY): Command<RespValue> =>
  subscribeCommand("UNSUBSCRIBE", channels, false, true)

/**
 * PSUBSCRIBE: subscribes the connection to glob patterns.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const psubscribe = (patterns: ReadonlyArray<Arg>): Command<RespValue> =>
  subscribeCommand("PSUBSCRIBE", patterns, false, false)

/**
 * PUNSUBSCRIBE: unsubscribes from patterns, or from all when none is given.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const punsubscribe = (patterns: ReadonlyArray<Arg> = EMPTY): Command<RespValue> =>
  subscribeCommand("PUNSUBSCRIBE", patterns, false, true)

/**
 * SSUBSCRIBE: subscribes to shard channels, routed by their slot.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const ssubscribe = (shardChannels: ReadonlyArray<Arg>): Command<RespValue> =>
  subscribeCommand("SSUBSCRIBE", shardChannels, true, false)

/**
 * SUNSUBSCRIBE: unsubscribes from shard channels, or from all when none is
 * given.
 *
 * @category pubsub
 * @since 0.1.0
 */
export const sunsubscribe = (shardChannels: ReadonlyArray<Arg> = EMPTY): Command<RespValue> =>
  subscribeCommand("SUNSUBSCRIBE", shardChannels, true, true)
