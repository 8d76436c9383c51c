/**
 * Scripting and functions: EVAL, EVALSHA, their `_RO` variants, SCRIPT,
 * FCALL, FCALL_RO and FUNCTION.
 *
 * Every function builds a `Command` value; nothing here sends anything or
 * caches scripts (retrying EVALSHA after NOSCRIPT is the caller's choice).
 *
 * Scripts and functions reply with whatever they return, so their commands
 * decode to the raw `RespValue`; map it with `Command.map`. The `keys`
 * argument is what the server sees as KEYS (numkeys is derived from it) and
 * what cluster routing uses; `args` is ARGV. EVAL, EVALSHA and FCALL are
 * neither read-only nor idempotent: the script may do anything. The `_RO`
 * variants are `READONLY`.
 *
 * Script cache and function library commands that change server state
 * (SCRIPT LOAD/FLUSH, FUNCTION LOAD/DELETE/FLUSH/RESTORE) are `ALL_NODES`:
 * every primary of a cluster has its own cache. SCRIPT EXISTS is not: its
 * per-node answers would need merging, which the router does not do.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type { Command } from "../Command.ts"
import { Flags, invalid, Reply, unsafeMake } from "../Command.ts"
import type { Arg, RespValue } from "../Resp.ts"
import { booleanArray, checkArgs, field, optionalField, rawRecord, stringArray } from "../internal/replyDecoders.ts"
import type { FlushMode } from "./server.ts"

const EMPTY: ReadonlyArray<Arg> = []

const buildScriptCall = (
  name: string,
  word: string,
  body: Arg,
  keys: ReadonlyArray<Arg>,
  args: ReadonlyArray<Arg>,
  flags: number
): Command<RespValue> => {
  const argv: Array<Arg> = [word, body, keys.length]
  for (let i = 0; i < keys.length; i++) argv.push(keys[i])
  for (let i = 0; i < args.length; i++) argv.push(args[i])
  const bad = checkArgs(argv)
  if (bad !== undefined) return invalid(name, bad)
  // A script without keys may run on any node of a cluster.
  return unsafeMake(name, argv, keys, keys.length === 0 ? flags | Flags.NO_KEYS : flags, Reply.raw)
}

// -----------------------------------------------------------------------------
// EVAL
// -----------------------------------------------------------------------------

/**
 * EVAL: runs a Lua script with `keys` as KEYS and `args` as ARGV.
 *
 * @category scripting
 * @since 0.1.0
 */
export const evalScript = (
  script: string,
  keys: ReadonlyArray<Arg> = EMPTY,
  args: ReadonlyArray<Arg> = EMPTY
): Command<RespValue> => buildScriptCall("EVAL", "EVAL", script, keys, args, Flags.WRITE)

/**
 * EVALSHA: runs a cached script by its SHA1 digest (fails with NOSCRIPT when
 * the server does not have it).
 *
 * @category scripting
 * @since 0.1.0
 */
export const evalsha = (
  sha1: string,
  keys: ReadonlyArray<Arg> = EMPTY,
  args: ReadonlyArray<Arg> = EMPTY
): Command<RespValue> => buildScriptCall("EVALSHA", "EVALSHA", sha1, keys, args, Flags.WRITE)

/**
 * EVAL_RO: runs a read-only Lua script (may go to a replica).
 *
 * @category scripting
 * @since 0.1.0
 */
export const evalRo = (
  script: string,
  keys: ReadonlyArray<Arg> = EMPTY,
  args: ReadonlyArray<Arg> = EMPTY
): Command<RespValue> => buildScriptCall("EVAL_RO", "EVAL_RO", script, keys, args, Flags.READONLY)

/**
 * EVALSHA_RO: runs a cached read-only script by its SHA1 digest.
 *
 * @category scripting
 * @since 0.1.0
 */
export const evalshaRo = (
  sha1: string,
  keys: ReadonlyArray<Arg> = EMPTY,
  args: ReadonlyArray<Arg> = EMPTY
): Command<RespValue> => buildScriptCall("EVALSHA_RO", "EVALSHA_RO", sha1, keys, args, Flags.READONLY)

// -----------------------------------------------------------------------------
// SCRIPT
// -----------------------------------------------------------------------------

/**
 * SCRIPT LOAD: caches a script on every node and returns its SHA1 digest.
 *
 * @category scripting
 * @since 0.1.0
 */
export const scriptLoad = (script: string): Command<string> =>
  unsafeMake(
    "SCRIPT",
    ["SCRIPT", "LOAD", script],
    EMPTY,
    Flags.NO_KEYS | Flags.IDEMPOTENT | Flags.ALL_NODES,
    Reply.string
  )

/**
 * SCRIPT EXISTS: whether each digest is cached (on the node that answers).
 *
 * @category scripting
 * @since 0.1.0
 */
export const scriptExists = (sha1s: ReadonlyArray<string>): Command<Array<boolean>> => {
  if (sha1s.length === 0) return invalid("SCRIPT", "SCRIPT EXISTS needs at least one digest")
  return unsafeMake("SCRIPT", ["SCRIPT", "EXISTS", ...sha1s], EMPTY, Flags.READONLY | Flags.NO_KEYS, booleanArray)
}

/**
 * SCRIPT FLUSH: empties the script cache of every node.
 *
 * @category scripting
 * @since 0.1.0
 */
export const scriptFlush = (mode?: FlushMode): Command<void> =>
  unsafeMake(
    "SCRIPT",
    mode === undefined ? ["SCRIPT", "FLUSH"] : ["SCRIPT", "FLUSH", mode],
    EMPTY,
    Flags.NO_KEYS | Flags.IDEMPOTENT | Flags.ALL_NODES,
    Reply.ok
  )

/**
 * SCRIPT KILL: stops the running script if it has not written anything.
 *
 * @category scripting
 * @since 0.1.0
 */
export const scriptKill = (): Command<void> =>
  unsafeMake("SCRIPT", ["SCRIPT", "KILL"], EMPTY, Flags.NO_KEYS, Reply.ok)

// -----------------------------------------------------------------------------
// FCALL
// -----------------------------------------------------------------------------

/**
 * FCALL: calls a library function with `keys` and `args`.
 *
 * @category scripting
 * @since 0.1.0
 */
export const fcall = (
  fn: string,
  keys: ReadonlyArray<Arg> = EMPTY,
  args: ReadonlyArray<Arg> = EMPTY
): Command<RespValue> => buildScriptCall("FCALL", "FCALL", fn, keys, args, Flags.WRITE)

/**
 * FCALL_RO: calls a function declared `no-writes` (may go to a replica).
 *
 * @category scripting
 * @since 0.1.0
 */
export const fcallRo = (
  fn: string,
  keys: ReadonlyArray<Arg> = EMPTY,
  args: ReadonlyArray<Arg> = EMPTY
): Command<RespValue> => buildScriptCall("FCALL_RO", "FCALL_RO", fn, keys, args, Flags.READONLY)

// -----------------------------------------------------------------------------
// FUNCTION
// -----------------------------------------------------------------------------

/**
 * FUNCTION LOAD: loads a library on every node and returns its name. With
 * `replace` it is idempotent.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionLoad = (
  code: string,
  options?: { readonly replace?: boolean | undefined }
): Command<string> =>
  options?.replace === true
    ? unsafeMake(
      "FUNCTION",
      ["FUNCTION", "LOAD", "REPLACE", code],
      EMPTY,
      Flags.NO_KEYS | Flags.ALL_NODES | Flags.IDEMPOTENT,
      Reply.string
    )
    : unsafeMake("FUNCTION", ["FUNCTION", "LOAD", code], EMPTY, Flags.NO_KEYS | Flags.ALL_NODES, Reply.string)

/**
 * FUNCTION DELETE: deletes a library from every node.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionDelete = (libraryName: string): Command<void> =>
  unsafeMake("FUNCTION", ["FUNCTION", "DELETE", libraryName], EMPTY, Flags.NO_KEYS | Flags.ALL_NODES, Reply.ok)

/**
 * FUNCTION FLUSH: deletes every library from every node.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionFlush = (mode?: FlushMode): Command<void> =>
  unsafeMake(
    "FUNCTION",
    mode === undefined ? ["FUNCTION", "FLUSH"] : ["FUNCTION", "FLUSH", mode],
    EMPTY,
    Flags.NO_KEYS | Flags.ALL_NODES | Flags.IDEMPOTENT,
    Reply.ok
  )

/**
 * FUNCTION KILL: stops the running function if it has not written anything.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionKill = (): Command<void> =>
  unsafeMake("FUNCTION", ["FUNCTION", "KILL"], EMPTY, Flags.NO_KEYS, Reply.ok)

/**
 * One library of FUNCTION LIST.
 *
 * @category scripting
 * @since 0.1.0
 */
export interface FunctionLibrary {
  readonly libraryName: string
  readonly engine: string
  readonly functions: Array<{
    readonly name: string
    readonly description: Option.Option<string>
    readonly flags: Array<string>
  }>
  /** Only with `withCode`. */
  readonly libraryCode: Option.Option<string>
}

const decodeFunction = (reply: RespValue): FunctionLibrary["functions"][number] => {
  const r = rawRecord(reply)
  return {
    name: Reply.string(field(r, "name")),
    description: optionalField(r, "description", Reply.string),
    flags: stringArray(field(r, "flags"))
  }
}

const decodeFunctions = Reply.array(decodeFunction)

const decodeLibrary = (reply: RespValue): FunctionLibrary => {
  const r = rawRecord(reply)
  return {
    libraryName: Reply.string(field(r, "library_name")),
    engine: Reply.string(field(r, "engine")),
    functions: decodeFunctions(field(r, "functions")),
    libraryCode: optionalField(r, "library_code", Reply.string)
  }
}

const decodeLibraries = Reply.array(decodeLibrary)

/**
 * FUNCTION LIST: the loaded libraries, optionally filtered by a name pattern
 * and with their code.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionList = (
  options?: { readonly libraryName?: string | undefined; readonly withCode?: boolean | undefined }
): Command<Array<FunctionLibrary>> => {
  const argv: Array<Arg> = ["FUNCTION", "LIST"]
  if (options?.libraryName !== undefined) argv.push("LIBRARYNAME", options.libraryName)
  if (options?.withCode === true) argv.push("WITHCODE")
  return unsafeMake("FUNCTION", argv, EMPTY, Flags.READONLY | Flags.NO_KEYS, decodeLibraries)
}

/**
 * The reply of FUNCTION STATS.
 *
 * @category scripting
 * @since 0.1.0
 */
export interface FunctionStats {
  readonly runningScript: Option.Option<{
    readonly name: string
    readonly command: Array<string>
    readonly durationMs: number
  }>
  readonly engines: Record<string, { readonly librariesCount: number; readonly functionsCount: number }>
}

const decodeFunctionStats = (reply: RespValue): FunctionStats => {
  const r = rawRecord(reply)
  const running = field(r, "running_script")
  const engines: Record<string, { readonly librariesCount: number; readonly functionsCount: number }> = {}
  const rawEngines = rawRecord(field(r, "engines"))
  for (const name of Object.keys(rawEngines)) {
    const e = rawRecord(rawEngines[name])
    engines[name] = {
      librariesCount: Reply.integer(field(e, "libraries_count")),
      functionsCount: Reply.integer(field(e, "functions_count"))
    }
  }
  let runningScript: FunctionStats["runningScript"] = Option.none()
  if (running !== null) {
    const s = rawRecord(running)
    runningScript = Option.some({
      name: Reply.string(field(s, "name")),
      command: stringArray(field(s, "command")),
      durationMs: Reply.integer(field(s, "duration_ms"))
    })
  }
  return { runningScript, engines }
}

/**
 * FUNCTION STATS: the running function, if any, and library counts per
 * engine.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionStats = (): Command<FunctionStats> =>
  unsafeMake("FUNCTION", ["FUNCTION", "STATS"], EMPTY, Flags.READONLY | Flags.NO_KEYS, decodeFunctionStats)

/**
 * FUNCTION DUMP: a binary payload of every library, for `functionRestore`.
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionDump = (): Command<Uint8Array> =>
  unsafeMake("FUNCTION", ["FUNCTION", "DUMP"], EMPTY, Flags.READONLY | Flags.NO_KEYS, Reply.bytes, true)

/**
 * FUNCTION RESTORE: loads libraries from a `functionDump` payload on every
 * node; `policy` says what to do with existing ones (server default APPEND).
 *
 * @category scripting
 * @since 0.1.0
 */
export const functionRestore = (
  payload: Uint8Array,
  policy?: "FLUSH" | "APPEND" | "REPLACE"
): Command<void> =>
  unsafeMake(
    "FUNCTION",
    policy === undefined ? ["FUNCTION", "RESTORE", payload] : ["FUNCTION", "RESTORE", payload, policy],
    EMPTY,
    // FLUSH and REPLACE leave the same libraries however often they run.
    policy === "FLUSH" || policy === "REPLACE"
      ? Flags.NO_KEYS | Flags.ALL_NODES | Flags.IDEMPOTENT
      : Flags.NO_KEYS | Flags.ALL_NODES,
    Reply.ok
  )
