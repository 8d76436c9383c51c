/**
 * A `node --import` preload for the benchmarks only: it changes what effect
 * sees as Node's `AsyncResource`, so that the cost of effect's per-suspension
 * async context capture can be measured. redis-effect never ships this: it
 * is loaded only by `bench/async-resource.ts` (and by hand), never by the
 * packages, the tests or `bench/run.ts`.
 *
 *     node --import ./bench/no-async-resource.mjs bench/worker.ts --client redis-effect --scenario concurrent-get --port 6379
 *
 * effect 4.1 (`effect/src/internal/effect.ts`, `captureAsyncContext`) reads
 * `process.getBuiltinModule("node:async_hooks")?.AsyncResource` once, when
 * its module is evaluated, and then does `new AsyncResource("effect/Fiber")`
 * every time a fiber suspends (and on each non-immediate fork), resuming the
 * fiber inside `runInAsyncScope` and calling `emitDestroy` after. This
 * preload wraps `process.getBuiltinModule` before effect is loaded, and for
 * `"node:async_hooks"` / `"async_hooks"` requested from effect's own files
 * (found by the caller's stack, once per module load) returns a copy of the
 * module whose `AsyncResource` is replaced; every other caller, and every
 * other built-in, gets the real module. `import "node:async_hooks"` and
 * `require("async_hooks")` still give the real module (in `lazy` mode, with
 * its `AsyncLocalStorage` wrapped, see below).
 *
 * `BENCH_ASYNC_RESOURCE` picks what effect gets:
 *
 * - `none` (default): `AsyncResource` is `undefined`, so
 *   `captureAsyncContext()` returns `undefined` and the fiber never captures,
 *   enters or destroys an async context: the cost removed entirely (what
 *   effect already does on runtimes without `node:async_hooks`).
 * - `lazy`: a model of an upstream fix that captures only once an
 *   `AsyncLocalStorage` exists in the process: until the first `new
 *   AsyncLocalStorage()` (the real class is wrapped, and the built-in's ESM
 *   exports re-synced, so named imports see the wrapper too) effect gets one
 *   shared no-op context (`runInAsyncScope` calls the function,
 *   `emitDestroy` does nothing); afterwards a real `AsyncResource` per
 *   suspension, as today. It keeps effect's call sites, so it still pays a
 *   constructor call and a `runInAsyncScope` call per suspension: an upper
 *   bound on what that fix would leave.
 * - `per-fiber`: a model of an upstream fix that keeps one real
 *   `AsyncResource` per fiber instead of one per suspension: the first
 *   capture of a fiber creates it, later ones (and forks made while the fiber
 *   runs, which today capture the same context) reuse it; every resumption
 *   still enters it with `runInAsyncScope`, and `emitDestroy` per resumption
 *   becomes a no-op (a real fix would destroy it once, when the fiber ends).
 *   effect's code only knows the fiber at the call site, so this mode wraps
 *   `FiberImpl.prototype.evaluate` (imported from effect's
 *   `dist/internal/effect.js`, the same module instance the rest of effect
 *   uses) to record the fiber being evaluated: one more call frame and a
 *   `try`/`finally` per evaluation, a cost a real fix would not have.
 * - `wrapped`: the real `AsyncResource` per suspension, as today, with the
 *   same `evaluate` wrapper as `per-fiber`: the cost of that instrumentation
 *   alone, so `wrapped` minus `per-fiber` is what one resource per fiber
 *   saves.
 * - `keep`: the real `AsyncResource` (no change; with the audit below, it
 *   counts what an unpatched process does).
 *
 * `BENCH_ASYNC_RESOURCE_AUDIT=1` adds an `async_hooks.createHook` that counts
 * the `init` of resources of type `"effect/Fiber"` (the type effect gives its
 * `AsyncResource`s) and, at exit, prints one line to stderr:
 * `async-resource-audit {"mode":...,"intercepted":[...],"effectFiberInits":n,...}`.
 * An init hook makes every `AsyncResource` more expensive, so the audit is
 * for checking the patch, never for timing.
 */
import * as Module from "node:module"

const modes = ["none", "lazy", "per-fiber", "wrapped", "keep"]
const mode = process.env.BENCH_ASYNC_RESOURCE ?? "none"
if (!modes.includes(mode)) {
  throw new Error(`BENCH_ASYNC_RESOURCE must be one of ${modes.join(", ")}, not ${mode}`)
}
const audit = process.env.BENCH_ASYNC_RESOURCE_AUDIT === "1"

const realGetBuiltinModule = process.getBuiltinModule
const asyncHooks = realGetBuiltinModule("node:async_hooks")
const RealAsyncResource = asyncHooks.AsyncResource

/** Callers (file:line) that were given the patched module. */
const intercepted = []
/** `lazy`: whether an `AsyncLocalStorage` has been constructed. */
let storageCreated = false
let storagesCreated = 0
let noopContexts = 0

/** The shared context of the `lazy` mode while no `AsyncLocalStorage` exists. */
const noopContext = {
  // effect calls it with exactly one argument (`runInAsyncScope(this.evaluate, this, effect)`).
  runInAsyncScope(fn, thisArg, arg) {
    return fn.call(thisArg, arg)
  },
  emitDestroy() {
    return this
  }
}

/**
 * Called by effect with `new`: a function (not a class) that returns an
 * object, so `new` yields that object (the shared no-op or a real resource).
 */
function LazyAsyncResource(type, options) {
  if (storageCreated) return new RealAsyncResource(type, options)
  if (audit) noopContexts++
  return noopContext
}

if (mode === "lazy") {
  const RealStorage = asyncHooks.AsyncLocalStorage
  class TrackedAsyncLocalStorage extends RealStorage {
    constructor(...args) {
      super(...args)
      storageCreated = true
      storagesCreated++
    }
  }
  // A lazy getter on the module object, configurable: replaced by a value.
  Object.defineProperty(asyncHooks, "AsyncLocalStorage", {
    value: TrackedAsyncLocalStorage,
    writable: true,
    enumerable: true,
    configurable: true
  })
  // `import { AsyncLocalStorage } from "node:async_hooks"` reads the ESM
  // facade, which is a snapshot of the CommonJS exports until re-synced.
  Module.syncBuiltinESMExports()
}

/** `per-fiber`: the fiber whose `evaluate` is running (innermost). */
let evaluating
let perFiberResources = 0
const perFiberResource = Symbol("bench/perFiberAsyncResource")

/** What effect gets in `per-fiber` mode: the fiber's resource, destroyed never per resumption. */
class SharedContext {
  constructor(resource) {
    this.resource = resource
  }
  runInAsyncScope(fn, thisArg, arg) {
    return this.resource.runInAsyncScope(fn, thisArg, arg)
  }
  emitDestroy() {
    return this
  }
}

function PerFiberAsyncResource(type, options) {
  const fiber = evaluating
  if (fiber === undefined) return new RealAsyncResource(type, options)
  let shared = fiber[perFiberResource]
  if (shared === undefined) {
    if (audit) perFiberResources++
    shared = fiber[perFiberResource] = new SharedContext(new RealAsyncResource(type, options))
  }
  return shared
}

const replacement = {
  none: undefined,
  lazy: LazyAsyncResource,
  "per-fiber": PerFiberAsyncResource,
  wrapped: RealAsyncResource,
  keep: RealAsyncResource
}[mode]
const patchedAsyncHooks = Object.freeze({ ...asyncHooks, AsyncResource: replacement })

/** The first stack frame outside this file, or "" (a file path with a line). */
const callerOf = (stack) => {
  const self = import.meta.url
  for (const line of (stack ?? "").split("\n").slice(1)) {
    if (!line.includes(self)) return line.trim()
  }
  return ""
}
/** effect's own modules, compiled (`dist`) or from source (`src`). */
const effectFile = /[\\/]node_modules[\\/]effect[\\/](?:dist|src)[\\/]/

process.getBuiltinModule = function getBuiltinModule(id) {
  const module = realGetBuiltinModule.call(process, id)
  if (id !== "node:async_hooks" && id !== "async_hooks") return module
  const caller = callerOf(new Error().stack)
  if (!effectFile.test(decodeURIComponent(caller))) return module
  intercepted.push(caller.replace(/^at\s+/, ""))
  return patchedAsyncHooks
}

if (mode === "per-fiber" || mode === "wrapped") {
  // Loaded after the wrapper above is installed, so effect's module-level
  // `getBuiltinModule` call is intercepted like in the other modes.
  const internal = new URL("./internal/effect.js", import.meta.resolve("effect"))
  const { FiberImpl } = await import(internal.href)
  const evaluate = FiberImpl.prototype.evaluate
  FiberImpl.prototype.evaluate = function(effect) {
    const previous = evaluating
    evaluating = this
    try {
      return evaluate.call(this, effect)
    } finally {
      evaluating = previous
    }
  }
}

if (audit) {
  let effectFiberInits = 0
  let effectFiberDestroys = 0
  const live = new Set()
  asyncHooks.createHook({
    init(id, type) {
      if (type !== "effect/Fiber") return
      effectFiberInits++
      live.add(id)
    },
    destroy(id) {
      if (live.delete(id)) effectFiberDestroys++
    }
  }).enable()
  process.on("exit", () => {
    process.stderr.write(
      `async-resource-audit ${
        JSON.stringify({
          mode,
          intercepted,
          effectFiberInits,
          effectFiberDestroys,
          ...(mode === "lazy" ? { storagesCreated, noopContexts } : {}),
          ...(mode === "per-fiber" ? { perFiberResources } : {})
        })
      }\n`
    )
  })
}
