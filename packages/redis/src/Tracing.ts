/**
 * Tracing, opt-in: a `Middleware` that gives every command a caller runs a
 * span named and attributed by the OpenTelemetry database conventions, and
 * every pipeline and transaction one span for the whole batch. The spans are
 * Effect's (`Effect.useSpan`, made the parent of what runs inside), so
 * whatever `Tracer` the program provides receives them:
 * `effect/observability`'s OTLP tracer, or any other.
 *
 * What a span carries:
 *
 * - at creation: `db.system.name` = `redis`, `db.operation.name` (the
 *   command's name; `PIPELINE`/`MULTI`, followed by the command's name when
 *   every command of the batch has the same one), `db.namespace` (when the
 *   options name the database), `db.operation.batch.size` (batches of two or
 *   more), and, when asked, `db.query.text` and `redis.cluster.slot`;
 * - from the wire (the `send`/`sendAll` hooks, once per write to a node):
 *   `server.address`/`server.port` of the node written to last,
 *   `redis.attempts` (writes), `redis.redirects` (MOVED/ASK replies), a
 *   `redis.redirect` event per redirect (from, to, slot) and a
 *   `redis.attempt.failed` event per other failed write;
 * - at the end, when the command failed: `error.type` (the reason's tag),
 *   `redis.error.outcome` (`NotSent`, `Rejected`, `Unknown`) and
 *   `db.response.status_code` (the server's error prefix, when the server
 *   refused it); the span ends as failed (see **Failures**).
 *
 * **Secrets**: arguments are values (and keys, and passwords), so
 * `db.query.text` is off unless `recordArguments` is on; even then AUTH,
 * HELLO, MIGRATE, ACL, CONFIG and SENTINEL show only their command word (and
 * subcommand), never an argument. Passwords given to a client (`Redacted`)
 * are sent by the connection's handshake, which no hook sees.
 *
 * **Writes outside a command**: a write made on a connection borrowed with
 * `withConnection`, the commands of `watch`, a cluster's own topology reads:
 * none of these passes `execute`, so by default (`wireSpans`) the wire hook
 * gives each a span of its own, with the same attributes.
 *
 * **Cost**: nothing when not installed (`Middleware` leaves the hot path
 * as it is). Installed: one span per command, made the fiber's parent span
 * (most of the cost: Effect's span creation and one context change; a few
 * µs of CPU per command, `bench/middleware.ts` measures it), plus one fiber
 * read, three attributes and one `tapError` per write. The
 * span options of a command name are built once and reused; nothing here
 * keeps other state. Exporting is the tracer's cost, on top.
 *
 * **Failures**: a tracer writes the failure's message into the span's
 * status and `exception` event, and a server's error text can quote the
 * command's arguments (`ERR unknown command 'x', with args beginning with:
 * …`). So a failed span is ended here, before Effect would, with a
 * `SpanFailure` whose message holds only the reason, the server's error
 * prefix, the command's name and the outcome (`failureMessage`).
 *
 * It does not export anything (that is the `Tracer` the program provides)
 * and does not sample (that is the tracer's, or `Tracer.MinimumTraceLevel`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as References from "effect/References"
import type * as Tracer from "effect/Tracer"
import { ParentSpan } from "effect/Tracer"
import * as Address from "./Address.ts"
import * as ClusterSlot from "./cluster/ClusterSlot.ts"
import type { Command } from "./Command.ts"
import * as Middleware from "./Middleware.ts"
import * as RedisError from "./RedisError.ts"
import type { Arg } from "./Resp.ts"

// -----------------------------------------------------------------------------
// attribute names
// -----------------------------------------------------------------------------

/**
 * The attribute and event names this module writes.
 *
 * @category constants
 * @since 0.1.0
 */
export const Names = {
  system: "db.system.name",
  operation: "db.operation.name",
  namespace: "db.namespace",
  query: "db.query.text",
  batchSize: "db.operation.batch.size",
  statusCode: "db.response.status_code",
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  outcome: "redis.error.outcome",
  attempts: "redis.attempts",
  redirects: "redis.redirects",
  slot: "redis.cluster.slot",
  redirectEvent: "redis.redirect",
  redirectKind: "redis.redirect.kind",
  redirectFrom: "redis.redirect.from",
  redirectTo: "redis.redirect.to",
  redirectCount: "redis.redirect.count",
  failedAttemptEvent: "redis.attempt.failed",
  node: "redis.node"
} as const

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * Record `db.query.text`: the command with its arguments (values, keys).
   * Off by default. Even on, the commands that carry credentials (AUTH,
   * HELLO, MIGRATE, ACL, CONFIG, SENTINEL) show no argument.
   */
  readonly recordArguments?: boolean | undefined
  /** Longest `db.query.text`, in characters (default 512); longer text is cut. */
  readonly maxQueryLength?: number | undefined
  /**
   * Span names: `"operation"` (the default, as the conventions say: `GET`,
   * `PIPELINE SET`), `"prefixed"` (`redis GET`), or a function of the
   * operation name.
   */
  readonly spanName?: "operation" | "prefixed" | ((operation: string) => string) | undefined
  /**
   * The database index the client uses, recorded as `db.namespace`. The
   * middleware cannot see it, so it is recorded only when given here.
   */
  readonly database?: number | undefined
  /**
   * Record `redis.cluster.slot`, the hash slot of the command's first key
   * (meant for cluster clients; one CRC16 per keyed command). A MOVED or ASK
   * reply records the slot it names either way.
   */
  readonly slots?: boolean | undefined
  /**
   * Give a span of its own to each write that happens outside any command
   * span (`withConnection`, `watch`, a cluster's topology reads). Default true.
   */
  readonly wireSpans?: boolean | undefined
  /** Attributes added to every span (a client's role, say). */
  readonly attributes?: Readonly<Record<string, string | number | boolean>> | undefined
}

// -----------------------------------------------------------------------------
// pure policy
// -----------------------------------------------------------------------------

// The commands whose arguments may hold credentials, and how many leading
// words (command, subcommand) of each stay readable.
const SENSITIVE: ReadonlyMap<string, number> = new Map([
  ["AUTH", 1],
  ["HELLO", 1],
  ["MIGRATE", 1],
  ["ACL", 2],
  ["CONFIG", 2],
  ["SENTINEL", 2]
])

const argText = (arg: Arg): string =>
  typeof arg === "string" ? arg : typeof arg === "number" ? String(arg) : `(${arg.length} bytes)`

/**
 * The `db.query.text` of a command: its words separated by spaces, binary
 * arguments as `(N bytes)`, cut at `max` characters. The arguments of the
 * commands that may carry credentials are `?`.
 *
 * @category policy
 * @since 0.1.0
 */
export const queryText = (command: Command<unknown>, max: number): string => {
  const args = command.args
  const visible = SENSITIVE.get(command.name) ?? args.length
  let text = ""
  for (let i = 0; i < args.length; i++) {
    const word = i < visible ? argText(args[i]) : "?"
    text = i === 0 ? word : `${text} ${word}`
    if (text.length > max) return `${text.slice(0, max)}…`
  }
  return text
}

/**
 * The operation name of a batch: `PIPELINE` or `MULTI`, followed by the
 * command's name when every command has the same one.
 *
 * @category policy
 * @since 0.1.0
 */
export const batchOperation = (kind: Middleware.BatchKind, commands: ReadonlyArray<Command<unknown>>): string => {
  const word = kind === "pipeline" ? "PIPELINE" : "MULTI"
  if (commands.length === 0) return word
  const first = commands[0].name
  for (let i = 1; i < commands.length; i++) if (commands[i].name !== first) return word
  return `${word} ${first}`
}

// The error prefix of each reason the server's own reply produces.
const SERVER_CODES: Partial<Record<RedisError.RedisErrorReason["_tag"], string>> = {
  Moved: "MOVED",
  Ask: "ASK",
  TryAgain: "TRYAGAIN",
  ClusterDown: "CLUSTERDOWN",
  CrossSlot: "CROSSSLOT",
  Loading: "LOADING",
  ReadOnly: "READONLY",
  Busy: "BUSY",
  NoScript: "NOSCRIPT",
  MasterDown: "MASTERDOWN",
  ExecAbort: "EXECABORT"
}

/**
 * `db.response.status_code`: the error prefix of the server's reply (`ERR`,
 * `WRONGTYPE`, `MOVED`, …) when the server refused the command; `undefined`
 * when the failure was the client's or the network's.
 *
 * @category policy
 * @since 0.1.0
 */
export const statusCode = (error: RedisError.RedisError): string | undefined => {
  if (error.outcome !== "Rejected") return undefined
  const reason = error.reason
  if (reason._tag === "ReplyError") return reason.code
  if (reason._tag === "AuthError") {
    const word = reason.message.split(" ", 1)[0]
    return /^[A-Z]+$/.test(word) ? word : undefined
  }
  return SERVER_CODES[reason._tag]
}

/**
 * The message a failed span ends with: the reason, the server's error prefix,
 * the command's name and the outcome (`ReplyError WRONGTYPE (INCR)
 * [Rejected]`). Never the reason's own text: a server's error text can quote
 * the command's arguments.
 *
 * @category policy
 * @since 0.1.0
 */
export const failureMessage = (error: RedisError.RedisError): string => {
  const code = statusCode(error)
  const tag = error.reason._tag
  const head = code === undefined || code === SERVER_CODES[tag] ? tag : `${tag} ${code}`
  return `${head}${error.command === undefined ? "" : ` (${error.command})`} [${error.outcome}]`
}

/**
 * What a failed span ends with in place of the `RedisError` (whose message
 * carries the server's text): same name, scrubbed message.
 *
 * @category models
 * @since 0.1.0
 */
export class SpanFailure extends Error {
  override readonly name = "RedisError"
}

interface Server {
  readonly address: string
  readonly port: number | undefined
}

/**
 * `server.address`/`server.port` of a node as the wire hooks name it
 * (`host:port`, `[v6]:port`, or a socket path).
 *
 * @category policy
 * @since 0.1.0
 */
export const serverOf = (node: string): Server => {
  if (node.startsWith("/")) return { address: node, port: undefined }
  const address = Address.parse(node)
  return address === undefined ? { address: node, port: undefined } : { address: address.host, port: address.port }
}

// -----------------------------------------------------------------------------
// span helpers
// -----------------------------------------------------------------------------

const increment = (span: Tracer.Span, key: string): void => {
  const current = span.attributes.get(key)
  span.attribute(key, typeof current === "number" ? current + 1 : 1)
}

const annotateFailure = (span: Tracer.Span, error: RedisError.RedisError): void => {
  span.attribute(Names.errorType, error.reason._tag)
  span.attribute(Names.outcome, error.outcome)
  const code = statusCode(error)
  if (code !== undefined) span.attribute(Names.statusCode, code)
}

// Ends a failed span before Effect would (it then leaves it as it is), with
// a failure the tracer may write out: the tracer turns the exit's error
// message into the span's status and `exception` event.
const endFailed = (span: Tracer.Span, error: RedisError.RedisError, fiber: Fiber.Fiber<unknown, unknown>): void => {
  annotateFailure(span, error)
  if (span.status._tag === "Ended") return
  const now = fiber.getRef(References.TracerTimingEnabled) ? nowNanos(fiber) : BigInt(0)
  span.end(now, Exit.fail(new SpanFailure(failureMessage(error))))
}

// Our spans carry `db.system.name` = redis from their creation; a batch span
// also lists the names of its commands, so a write made under it by someone
// else (a cluster refresh forked from the caller's fiber inherits its span)
// is not taken for one of its attempts.
const batchNames = new WeakMap<Tracer.AnySpan, ReadonlySet<string>>()

const ownSpan = (span: Tracer.AnySpan | undefined, name: string | undefined): Tracer.Span | undefined => {
  if (span === undefined || span._tag !== "Span" || span.attributes.get(Names.system) !== "redis") return undefined
  if (name === undefined || span.attributes.get(Names.operation) === name) return span
  const names = batchNames.get(span)
  return names !== undefined && names.has(name) ? span : undefined
}

const nowNanos = (fiber: Fiber.Fiber<unknown, unknown>): bigint => fiber.getRef(Clock.Clock).currentTimeNanosUnsafe()

const redirectOf = (error: unknown): RedisError.Moved | RedisError.Ask | undefined => {
  if (!RedisError.isRedisError(error)) return undefined
  const reason = error.reason
  return reason._tag === "Moved" || reason._tag === "Ask" ? reason : undefined
}

const onAttemptFailure = (span: Tracer.Span, node: string, error: RedisError.RedisError) =>
  Effect.withFiber((fiber) => {
    const redirect = redirectOf(error)
    if (redirect !== undefined) {
      increment(span, Names.redirects)
      span.attribute(Names.slot, redirect.slot)
      span.event(Names.redirectEvent, nowNanos(fiber), {
        [Names.redirectKind]: redirect._tag === "Moved" ? "MOVED" : "ASK",
        [Names.redirectFrom]: node,
        [Names.redirectTo]: Address.format(redirect),
        [Names.slot]: redirect.slot
      })
    } else {
      span.event(Names.failedAttemptEvent, nowNanos(fiber), {
        [Names.node]: node,
        [Names.errorType]: error.reason._tag,
        [Names.outcome]: error.outcome
      })
    }
    return Effect.void
  })

// A batch written to one node: its redirected replies are redirects (one
// event per write, with the count), its other failures are the commands'.
const onBatchExits = (span: Tracer.Span, node: string, exits: Middleware.Exits) => {
  let count = 0
  let first: RedisError.Moved | RedisError.Ask | undefined
  for (const exit of exits) {
    if (Exit.isSuccess(exit)) continue
    const redirect = redirectOf(RedisError.failureOf(exit))
    if (redirect === undefined) continue
    count++
    first ??= redirect
  }
  if (first === undefined) return Effect.void
  const redirect = first
  return Effect.withFiber((fiber) => {
    span.attribute(Names.redirects, ((span.attributes.get(Names.redirects) as number | undefined) ?? 0) + count)
    span.event(Names.redirectEvent, nowNanos(fiber), {
      [Names.redirectKind]: redirect._tag === "Moved" ? "MOVED" : "ASK",
      [Names.redirectFrom]: node,
      [Names.redirectTo]: Address.format(redirect),
      [Names.redirectCount]: count
    })
    return Effect.void
  })
}

// -----------------------------------------------------------------------------
// the middleware
// -----------------------------------------------------------------------------

// The span is the parent of what runs inside (the wire hooks find it there).
// `Effect.withSpan` would also push a stack frame: one more context change
// per command, for a frame no one reads.
const asParent = <A, E>(effect: Effect.Effect<A, E>, span: Tracer.Span): Effect.Effect<A, E> =>
  Effect.provideService(effect, ParentSpan, span)

interface Plan {
  readonly name: string
  readonly options: Tracer.SpanOptions
}

// More distinct command names than this (custom commands built on the fly)
// get their plan built per call instead of cached.
const MAX_PLANS = 1024

const naming = (style: Options["spanName"]): (operation: string) => string =>
  typeof style === "function" ? style : style === "prefixed" ? (operation) => `redis ${operation}` : (operation) => operation

// The span name and creation options of each operation name, built once;
// the per-call attributes (arguments, slot) are opt-in, and without them the
// cached options object is reused as it is.
const spanPlans = (options: Options) => {
  const recordArguments = options.recordArguments === true
  const slots = options.slots === true
  const maxQueryLength = options.maxQueryLength ?? 512
  const spanName = naming(options.spanName)
  const base: Record<string, unknown> = { ...options.attributes, [Names.system]: "redis" }
  if (options.database !== undefined) base[Names.namespace] = String(options.database)
  const plans = new Map<string, Plan>()
  const planFor = (operation: string): Plan => {
    let plan = plans.get(operation)
    if (plan === undefined) {
      plan = {
        name: spanName(operation),
        options: { kind: "client", captureStackTrace: false, attributes: { ...base, [Names.operation]: operation } }
      }
      if (plans.size < MAX_PLANS) plans.set(operation, plan)
    }
    return plan
  }
  return {
    forCommand: (command: Command<unknown>): Plan => {
      const plan = planFor(command.name)
      if (!recordArguments && !slots) return plan
      const attributes: Record<string, unknown> = { ...plan.options.attributes }
      if (recordArguments) attributes[Names.query] = queryText(command, maxQueryLength)
      if (slots && command.keys.length > 0) attributes[Names.slot] = ClusterSlot.keyslot(command.keys[0])
      return { name: plan.name, options: { ...plan.options, attributes } }
    },
    forBatch: (kind: Middleware.BatchKind, commands: ReadonlyArray<Command<unknown>>): Plan => {
      const plan = planFor(batchOperation(kind, commands))
      const attributes: Record<string, unknown> = { ...plan.options.attributes }
      if (commands.length > 1) attributes[Names.batchSize] = commands.length
      if (recordArguments) {
        attributes[Names.query] = commands.map((c) => queryText(c, maxQueryLength)).join("\n").slice(0, maxQueryLength)
      }
      return { name: plan.name, options: { ...plan.options, attributes } }
    }
  }
}

// One write to a node under one of our spans: count it, name the node, and
// note a failure (a redirect, a lost connection) as an event.
const wireRecorder = () => {
  const servers = new Map<string, Server>()
  const noteWrite = (span: Tracer.Span, node: string) => {
    increment(span, Names.attempts)
    let server = servers.get(node)
    if (server === undefined) {
      server = serverOf(node)
      if (servers.size < MAX_PLANS) servers.set(node, server)
    }
    span.attribute(Names.serverAddress, server.address)
    if (server.port !== undefined) span.attribute(Names.serverPort, server.port)
  }
  return {
    attempt: <A>(span: Tracer.Span, node: string, next: Effect.Effect<A, RedisError.RedisError>) => {
      noteWrite(span, node)
      return Effect.tapError(next, (error) => onAttemptFailure(span, node, error))
    },
    attemptAll: (span: Tracer.Span, node: string, next: Effect.Effect<Middleware.Exits>) => {
      noteWrite(span, node)
      return Effect.tap(next, (exits) => onBatchExits(span, node, exits))
    }
  }
}

/**
 * The tracing middleware.
 *
 * @category constructors
 * @since 0.1.0
 */
export const middleware = (options: Options = {}): Middleware.Middleware => {
  const wireSpans = options.wireSpans !== false
  const plans = spanPlans(options)
  const { attempt, attemptAll } = wireRecorder()

  const onFailure = (error: RedisError.RedisError) =>
    Effect.withFiber((fiber) => {
      const span = ownSpan(fiber.cache.span, undefined)
      if (span !== undefined) endFailed(span, error, fiber)
      return Effect.void
    })

  const commandSpan = <A>(command: Command<A>, effect: Effect.Effect<A, RedisError.RedisError>) => {
    const plan = plans.forCommand(command)
    const observed = Effect.tapError(effect, onFailure)
    return Effect.useSpan(plan.name, plan.options, (span) => asParent(observed, span))
  }

  const batchSpan = <A, E>(kind: Middleware.BatchKind, commands: ReadonlyArray<Command<unknown>>, effect: Effect.Effect<A, E>) => {
    const plan = plans.forBatch(kind, commands)
    const names = new Set(commands.map((c) => c.name))
    return Effect.useSpan(plan.name, plan.options, (span) => {
      batchNames.set(span, names)
      const observed = Effect.onExit(effect, (exit) => {
        // A pipeline succeeds with one exit per command: its first failure
        // is the batch's error type; a transaction fails as a whole.
        if (Exit.isSuccess(exit)) {
          const error = kind === "pipeline" ? RedisError.firstFailure(exit.value as Middleware.Exits) : undefined
          if (error !== undefined) annotateFailure(span, error)
          return Effect.void
        }
        const error = RedisError.failureOf(exit)
        return RedisError.isRedisError(error)
          ? Effect.withFiber((fiber) => {
            endFailed(span, error, fiber)
            return Effect.void
          })
          : Effect.void
      })
      return asParent(observed, span)
    })
  }

  const send = <A>(node: string, command: Command<A>, next: Effect.Effect<A, RedisError.RedisError>) =>
    Effect.withFiber((fiber) => {
      const span = ownSpan(fiber.cache.span, command.name)
      if (span !== undefined) return attempt(span, node, next)
      if (!wireSpans) return next
      // Under the span just made (a disabled tracer makes a no-op one: then
      // the write runs as it is).
      return commandSpan(
        command,
        Effect.withFiber((inner) => {
          const own = ownSpan(inner.cache.span, command.name)
          return own === undefined ? next : attempt(own, node, next)
        })
      )
    })

  const sendAll = (node: string, commands: ReadonlyArray<Command<unknown>>, next: Effect.Effect<Middleware.Exits>) =>
    Effect.withFiber((fiber) => {
      const parent = fiber.cache.span
      const span = ownSpan(parent, commands.length === 0 ? undefined : commands[commands.length - 1].name) ??
        (parent !== undefined && batchNames.has(parent) ? ownSpan(parent, undefined) : undefined)
      if (span !== undefined) return attemptAll(span, node, next)
      if (!wireSpans || commands.length === 0) return next
      // MULTI … EXEC written outside `transaction` (the end of a `watch`).
      const isTransaction = commands[0].name === "MULTI" && commands[commands.length - 1].name === "EXEC"
      const inner = isTransaction ? commands.slice(1, -1) : commands
      return batchSpan(
        isTransaction ? "transaction" : "pipeline",
        inner,
        Effect.withFiber((f) => {
          const own = ownSpan(f.cache.span, undefined)
          return own === undefined ? next : attemptAll(own, node, next)
        })
      )
    })

  return {
    name: "tracing",
    execute: commandSpan,
    batch: batchSpan,
    send,
    sendAll
  }
}

/**
 * The tracing middleware for every client built with this layer's context
 * (after those of the client's own `middleware` option).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Middleware.Middlewares> =>
  Middleware.layer(middleware(options))
