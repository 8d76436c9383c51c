/**
 * Shared assertions for the command-constructor unit tests: argv, keys,
 * flags and validity of a `Command`, without any connection.
 */
import { assert } from "@effect/vitest"
import type { Command } from "../../src/Command.ts"
import { Flags } from "../../src/Command.ts"
import type { Arg } from "../../src/Resp.ts"

export const RO = Flags.READONLY
export const W = Flags.WRITE
export const WI = Flags.WRITE | Flags.IDEMPOTENT
export const BW = Flags.WRITE | Flags.BLOCKING
export const RO_NK = Flags.READONLY | Flags.NO_KEYS

/** Asserts argv, keys and flags of a valid command. */
export const expectCommand = (
  cmd: Command<unknown>,
  args: ReadonlyArray<Arg>,
  keys: ReadonlyArray<Arg>,
  flags: number
): void => {
  assert.strictEqual(cmd.invalid, undefined, `unexpected invalid: ${cmd.invalid}`)
  assert.deepStrictEqual(cmd.args, args)
  assert.deepStrictEqual(cmd.keys, keys)
  assert.strictEqual(cmd.flags, flags)
}

/** Asserts the command was refused before sending. */
export const expectInvalid = (cmd: Command<unknown>, pattern?: RegExp): void => {
  assert.isString(cmd.invalid)
  if (pattern !== undefined) assert.match(cmd.invalid!, pattern)
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
