import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { Flags, Reply } from "../../src/Command.ts"
import * as CustomCommand from "../../src/CustomCommand.ts"

describe("CustomCommand.define", () => {
  const jsonGet = CustomCommand.define({
    name: "JSON.GET",
    args: (key: string, path: string) => [key, path],
    keys: (key) => [key],
    flags: Flags.READONLY,
    decode: Reply.optionalString
  })

  it("builds argv, keys, flags and name from the definition", () => {
    const c = jsonGet("user:1", "$.name")
    assert.deepStrictEqual(c.args, ["JSON.GET", "user:1", "$.name"])
    assert.deepStrictEqual(c.keys, ["user:1"])
    assert.strictEqual(c.flags, Flags.READONLY)
    assert.strictEqual(c.name, "JSON.GET")
    assert.isUndefined(c.invalid)
    assert.isTrue(Option.isNone(c.decode(null)))
    assert.deepStrictEqual(c.decode("x"), Option.some("x"))
  })

  it("splits multi-word names; keyless commands get NO_KEYS; default args are the parameters", () => {
    const freq = CustomCommand.define({ name: "object  freq", decode: Reply.integer })
    const c = freq("k")
    assert.deepStrictEqual(c.args, ["object", "freq", "k"])
    assert.strictEqual(c.name, "OBJECT")
    assert.strictEqual(c.flags, Flags.NO_KEYS)
    assert.strictEqual(c.decode(3), 3)
    const raw = CustomCommand.define({ name: "PING" })
    assert.deepStrictEqual(raw().args, ["PING"])
    assert.deepStrictEqual(raw().decode(["a", 1]), ["a", 1])
  })

  it("refuses bad input before sending: validate, non-finite numbers, empty name", () => {
    const incr = CustomCommand.define({
      name: "INCRBY",
      args: (key: string, by: number) => [key, by],
      keys: (key) => [key],
      validate: (_key, by) => (Number.isInteger(by) ? undefined : "by must be an integer")
    })
    assert.strictEqual(incr("k", 1.5).invalid, "by must be an integer")
    const any = CustomCommand.define({ name: "SET", args: (k: string, v: number) => [k, v] })
    assert.match(any("k", NaN).invalid ?? "", /not a finite number/)
    assert.isString(CustomCommand.define({ name: "  " })().invalid)
    // Binary replies are requested through the definition.
    assert.isTrue(CustomCommand.define({ name: "DUMP", binary: true, decode: Reply.bytes })("k").binary)
  })
})
