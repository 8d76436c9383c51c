import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { Flags } from "../../src/Command.ts"
import { RespMap, RespSet } from "../../src/Resp.ts"
import * as S from "../../src/commands/scripting.ts"

describe("scripting", () => {
  it("EVAL derives numkeys; keys are KEYS; not readonly nor idempotent", () => {
    const c = S.evalScript("return 1", ["k1", "k2"], ["a", 1])
    assert.strictEqual(c.name, "EVAL")
    assert.deepStrictEqual(c.args, ["EVAL", "return 1", 2, "k1", "k2", "a", 1])
    assert.deepStrictEqual(c.keys, ["k1", "k2"])
    assert.strictEqual(c.flags, Flags.WRITE)
    const raw = [1, "x"]
    assert.strictEqual(c.decode(raw), raw)
  })

  it("EVAL without keys is keyless", () => {
    const c = S.evalScript("return 1")
    assert.deepStrictEqual(c.args, ["EVAL", "return 1", 0])
    assert.strictEqual(c.flags, Flags.WRITE | Flags.NO_KEYS)
  })

  it("EVAL refuses NaN arguments", () => {
    assert.isString(S.evalScript("return 1", [], [NaN]).invalid)
  })

  it("EVALSHA, _RO variants and FCALL", () => {
    assert.deepStrictEqual(S.evalsha("abc", ["k"]).args, ["EVALSHA", "abc", 1, "k"])
    const ro = S.evalRo("return 1", ["k"])
    assert.strictEqual(ro.name, "EVAL_RO")
    assert.strictEqual(ro.flags, Flags.READONLY)
    assert.strictEqual(S.evalshaRo("abc", ["k"]).flags, Flags.READONLY)
    const f = S.fcall("myfn", ["k"], ["v"])
    assert.deepStrictEqual(f.args, ["FCALL", "myfn", 1, "k", "v"])
    assert.strictEqual(f.flags, Flags.WRITE)
    assert.strictEqual(S.fcallRo("myfn", ["k"]).flags, Flags.READONLY)
  })

  it("SCRIPT LOAD/EXISTS/FLUSH/KILL", () => {
    const load = S.scriptLoad("return 1")
    assert.deepStrictEqual(load.args, ["SCRIPT", "LOAD", "return 1"])
    assert.strictEqual(load.name, "SCRIPT")
    assert.strictEqual(load.flags, Flags.NO_KEYS | Flags.IDEMPOTENT | Flags.ALL_NODES)
    const exists = S.scriptExists(["a", "b"])
    assert.deepStrictEqual(exists.decode([1, 0]), [true, false])
    assert.deepStrictEqual(exists.decode(new RespSet([true, false])), [true, false])
    assert.isString(S.scriptExists([]).invalid)
    assert.deepStrictEqual(S.scriptFlush("ASYNC").args, ["SCRIPT", "FLUSH", "ASYNC"])
    assert.deepStrictEqual(S.scriptFlush().args, ["SCRIPT", "FLUSH"])
    assert.deepStrictEqual(S.scriptKill().args, ["SCRIPT", "KILL"])
  })

  it("FUNCTION LOAD is idempotent only with REPLACE", () => {
    const plain = S.functionLoad("#!lua name=lib")
    assert.deepStrictEqual(plain.args, ["FUNCTION", "LOAD", "#!lua name=lib"])
    assert.strictEqual(plain.flags, Flags.NO_KEYS | Flags.ALL_NODES)
    const replace = S.functionLoad("#!lua name=lib", { replace: true })
    assert.deepStrictEqual(replace.args, ["FUNCTION", "LOAD", "REPLACE", "#!lua name=lib"])
    assert.strictEqual(replace.flags & Flags.IDEMPOTENT, Flags.IDEMPOTENT)
    assert.strictEqual(replace.decode("lib"), "lib")
  })

  it("FUNCTION DELETE/FLUSH/DUMP/RESTORE", () => {
    assert.deepStrictEqual(S.functionDelete("lib").args, ["FUNCTION", "DELETE", "lib"])
    assert.strictEqual(S.functionFlush("SYNC").flags & Flags.ALL_NODES, Flags.ALL_NODES)
    const dump = S.functionDump()
    assert.strictEqual(dump.binary, true)
    assert.deepStrictEqual(dump.decode(new Uint8Array([1, 2])), new Uint8Array([1, 2]))
    const payload = new Uint8Array([1])
    assert.deepStrictEqual(S.functionRestore(payload, "REPLACE").args, ["FUNCTION", "RESTORE", payload, "REPLACE"])
  })

  it("FUNCTION LIST decodes RESP2 and RESP3", () => {
    const c = S.functionList({ libraryName: "lib*", withCode: true })
    assert.deepStrictEqual(c.args, ["FUNCTION", "LIST", "LIBRARYNAME", "lib*", "WITHCODE"])
    const fn2 = ["name", "f", "description", null, "flags", ["no-writes"]]
    const lib2 = ["library_name", "lib", "engine", "LUA", "functions", [fn2], "library_code", "code"]
    const expected = [{
      libraryName: "lib",
      engine: "LUA",
      functions: [{ name: "f", description: Option.none(), flags: ["no-writes"] }],
      libraryCode: Option.some("code")
    }]
    assert.deepStrictEqual(c.decode([lib2]), expected)
    const lib3 = new RespMap([
      "library_name", "lib", "engine", "LUA",
      "functions", [new RespMap(["name", "f", "description", null, "flags", new RespSet(["no-writes"])])],
      "library_code", "code"
    ])
    assert.deepStrictEqual(c.decode([lib3]), expected)
  })

  it("FUNCTION STATS", () => {
    const c = S.functionStats()
    const r = c.decode([
      "running_script", ["name", "f", "command", ["FCALL", "f", "0"], "duration_ms", 12],
      "engines", ["LUA", ["libraries_count", 1, "functions_count", 2]]
    ])
    assert.deepStrictEqual(r.runningScript, Option.some({ name: "f", command: ["FCALL", "f", "0"], durationMs: 12 }))
    assert.deepStrictEqual(r.engines, { LUA: { librariesCount: 1, functionsCount: 2 } })
    const idle = c.decode(new RespMap(["running_script", null, "engines", new RespMap([])]))
    assert.deepStrictEqual(idle, { runningScript: Option.none(), engines: {} })
  })
})
