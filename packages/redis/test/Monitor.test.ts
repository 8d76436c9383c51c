import { assert, describe, it } from "@effect/vitest"
import { parseMonitorLine } from "../src/Monitor.ts"

// Lines captured from redis-server 7.0 (`redis-cli monitor`) while the
// commands named in each test ran.
describe("parseMonitorLine", () => {
  it("a TCP client: time, database, client, arguments, and the raw line", () => {
    const raw = `1796274891.920733 [3 127.0.0.1:60892] "set" "a" "b"`
    assert.deepStrictEqual(parseMonitorLine(raw), {
      time: 1796274891.920733,
      database: 3,
      client: "127.0.0.1:60892",
      args: ["set", "a", "b"],
      raw
    })
  })

  it("quotes and backslashes inside arguments (SET 'he said \"hi\"' 'back\\slash')", () => {
    const event = parseMonitorLine(`1796274891.896936 [0 127.0.0.1:60856] "set" "he said \\"hi\\"" "back\\\\slash"`)
    assert.deepStrictEqual(event?.args, ["set", `he said "hi"`, "back\\slash"])
  })

  it("control characters: \\t and \\n", () => {
    const event = parseMonitorLine(`1796274891.907232 [0 127.0.0.1:60872] "SET" "k" "tab\\there\\nnew"`)
    assert.deepStrictEqual(event?.args, ["SET", "k", "tab\there\nnew"])
  })

  it("UTF-8 written as \\xHH bytes comes back as the characters (SET é 日本)", () => {
    const event = parseMonitorLine(`1796274891.913811 [0 127.0.0.1:60876] "set" "\\xc3\\xa9" "\\xe6\\x97\\xa5\\xe6\\x9c\\xac"`)
    assert.deepStrictEqual(event?.args, ["set", "é", "日本"])
  })

  it("bytes that are not UTF-8 become U+FFFD; the raw line keeps them", () => {
    const raw = `1796274891.946925 [0 127.0.0.1:60906] "set" "bin" "a\\x01\\xffb"`
    const event = parseMonitorLine(raw)
    assert.deepStrictEqual(event?.args, ["set", "bin", "a\u0001\uFFFDb"])
    assert.strictEqual(event?.raw, raw)
  })

  it("\\a and \\b escapes", () => {
    const event = parseMonitorLine(`1796274891.9 [0 127.0.0.1:1] "set" "k" "\\a\\b"`)
    assert.deepStrictEqual(event?.args, ["set", "k", "\u0007\b"])
  })

  it("an empty argument and one with spaces", () => {
    const event = parseMonitorLine(`1796274891.953024 [0 127.0.0.1:60912] "set" "" "with space"`)
    assert.deepStrictEqual(event?.args, ["set", "", "with space"])
  })

  it("a unix-socket client", () => {
    const event = parseMonitorLine(`1796274891.926926 [0 unix:/tmp/mon/r.sock] "ping"`)
    assert.strictEqual(event?.client, "unix:/tmp/mon/r.sock")
    assert.deepStrictEqual(event?.args, ["ping"])
  })

  it("an IPv6 client, whose address holds brackets", () => {
    const event = parseMonitorLine(`1796274891.933299 [0 [::1]:40426] "get" "x"`)
    assert.strictEqual(event?.client, "[::1]:40426")
    assert.strictEqual(event?.database, 0)
    assert.deepStrictEqual(event?.args, ["get", "x"])
  })

  it("a command run by a Lua script, and the EVAL that ran it", () => {
    const evalLine = parseMonitorLine(
      `1796274891.939348 [0 127.0.0.1:60902] "eval" "return redis.call('set', KEYS[1], ARGV[1])" "1" "lk" "lv"`
    )
    assert.deepStrictEqual(evalLine?.args, ["eval", "return redis.call('set', KEYS[1], ARGV[1])", "1", "lk", "lv"])
    const fromLua = parseMonitorLine(`1796274891.939404 [0 lua] "set" "lk" "lv"`)
    assert.strictEqual(fromLua?.client, "lua")
    assert.deepStrictEqual(fromLua?.args, ["set", "lk", "lv"])
  })

  it("an argument that looks like the bracket's end does not confuse the client", () => {
    const event = parseMonitorLine(`1796274891.1 [0 127.0.0.1:5] "set" "a] \\"b" "c"`)
    assert.strictEqual(event?.client, "127.0.0.1:5")
    assert.deepStrictEqual(event?.args, ["set", `a] "b`, "c"])
  })

  it("what is not a MONITOR line is undefined", () => {
    for (
      const line of [
        "OK",
        "",
        `x.1 [0 127.0.0.1:1] "get"`,
        `1.1 [a 127.0.0.1:1] "get"`,
        `1.1 [0 127.0.0.1:1]`,
        `1.1 [0 127.0.0.1:1] get`,
        `1.1 [0 127.0.0.1:1] "get`,
        `1.1 [0 127.0.0.1:1] "get" "k`,
        `1.1 [0 127.0.0.1:1] "get""k"`,
        `1.1 [0 127.0.0.1:1] "\\xZZ"`
      ]
    ) {
      assert.isUndefined(parseMonitorLine(line), line)
    }
  })
})
