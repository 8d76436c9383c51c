import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Flags, needsDedicated } from "../../src/Command.ts"
import { RespMap } from "../../src/Resp.ts"
import * as C from "../../src/commands/connection.ts"
import { parseClientList } from "../../src/commands/parsers.ts"

describe("connection", () => {
  it("AUTH: password or user + password, Redacted accepted, name stays AUTH", () => {
    assert.deepStrictEqual(C.auth("pw").args, ["AUTH", "pw"])
    const c = C.auth(Redacted.make("pw"), "alice")
    assert.deepStrictEqual(c.args, ["AUTH", "alice", "pw"])
    assert.strictEqual(c.name, "AUTH")
    assert.isTrue(needsDedicated(c))
  })

  it("HELLO with AUTH and SETNAME; RESP2 and RESP3 replies", () => {
    const c = C.hello(3, { auth: { username: "u", password: Redacted.make("p") }, setname: "app" })
    assert.deepStrictEqual(c.args, ["HELLO", 3, "AUTH", "u", "p", "SETNAME", "app"])
    assert.strictEqual(c.name, "HELLO")
    assert.deepStrictEqual(c.decode(new RespMap(["server", "redis", "proto", 3])), { server: "redis", proto: 3 })
    assert.deepStrictEqual(c.decode(["server", "redis", "proto", 2]), { server: "redis", proto: 2 })
    assert.deepStrictEqual(C.hello().args, ["HELLO"])
    assert.isString(C.hello(undefined, { setname: "x" }).invalid)
    assert.isString(C.hello(3, { setname: "a b" }).invalid)
  })

  it("SELECT is connection state and refuses bad indexes", () => {
    const s = C.select(2)
    assert.deepStrictEqual(s.args, ["SELECT", 2])
    assert.strictEqual(s.flags & Flags.CONNECTION_STATE, Flags.CONNECTION_STATE)
    assert.isString(C.select(-1).invalid)
    assert.isString(C.select(1.5).invalid)
  })

  it("CLIENT ID/GETNAME/SETNAME", () => {
    assert.strictEqual(C.clientId().decode(7), 7)
    assert.deepStrictEqual(C.clientGetname().decode(null), Option.none())
    const n = C.clientSetname("app")
    assert.deepStrictEqual(n.args, ["CLIENT", "SETNAME", "app"])
    assert.strictEqual(n.name, "CLIENT")
    assert.strictEqual(n.flags & (Flags.IDEMPOTENT | Flags.CONNECTION_STATE), Flags.IDEMPOTENT | Flags.CONNECTION_STATE)
    assert.isString(C.clientSetname("a b").invalid)
  })

  it("parseClientList parses lines into records", () => {
    const text =
      "id=3 addr=127.0.0.1:52555 laddr=127.0.0.1:6379 fd=8 name= age=0 cmd=client|list user=default\n" +
      "id=4 addr=127.0.0.1:52556 laddr=127.0.0.1:6379 fd=9 name=worker age=12 cmd=get user=default\n"
    const list = parseClientList(text)
    assert.strictEqual(list.length, 2)
    assert.deepStrictEqual(list[0], {
      id: "3", addr: "127.0.0.1:52555", laddr: "127.0.0.1:6379", fd: "8", name: "", age: "0", cmd: "client|list", user: "default"
    })
    assert.strictEqual(list[1].name, "worker")
    assert.deepStrictEqual(parseClientList(""), [])
  })

  it("CLIENT LIST and INFO decode through parseClientList", () => {
    const l = C.clientList({ type: "normal", ids: [1, 2] })
    assert.deepStrictEqual(l.args, ["CLIENT", "LIST", "TYPE", "normal", "ID", 1, 2])
    assert.deepStrictEqual(l.decode("id=1 name=a\nid=2 name=b\n"), [{ id: "1", name: "a" }, { id: "2", name: "b" }])
    assert.deepStrictEqual(C.clientInfo().decode(new TextEncoder().encode("id=1 name=a\n")), { id: "1", name: "a" })
  })

  it("CLIENT KILL filters and the old address form", () => {
    const k = C.clientKill({ id: [1, 2], addr: "1.2.3.4:5", laddr: "l:1", user: "u", type: "pubsub", skipme: false, maxage: 60 })
    assert.deepStrictEqual(k.args, [
      "CLIENT", "KILL", "ID", 1, 2, "ADDR", "1.2.3.4:5", "LADDR", "l:1", "USER", "u", "TYPE", "pubsub", "SKIPME", "no", "MAXAGE", 60
    ])
    assert.strictEqual(k.decode(2), 2)
    assert.isString(C.clientKill({}).invalid)
    assert.isString(C.clientKill({ id: [] }).invalid)
    assert.deepStrictEqual(C.clientKillAddr("1.2.3.4:5").args, ["CLIENT", "KILL", "1.2.3.4:5"])
  })

  it("CLIENT PAUSE/UNPAUSE/NO-EVICT/NO-TOUCH/SETINFO/CACHING/REPLY", () => {
    assert.deepStrictEqual(C.clientPause(100, "WRITE").args, ["CLIENT", "PAUSE", 100, "WRITE"])
    assert.isString(C.clientPause(-1).invalid)
    assert.deepStrictEqual(C.clientUnpause().args, ["CLIENT", "UNPAUSE"])
    assert.deepStrictEqual(C.clientNoEvict(true).args, ["CLIENT", "NO-EVICT", "ON"])
    assert.deepStrictEqual(C.clientNoTouch(false).args, ["CLIENT", "NO-TOUCH", "OFF"])
    assert.deepStrictEqual(C.clientSetinfo("LIB-NAME", "redis-effect").args, ["CLIENT", "SETINFO", "LIB-NAME", "redis-effect"])
    assert.deepStrictEqual(C.clientCaching(true).args, ["CLIENT", "CACHING", "YES"])
    const r = C.clientReply("ON")
    assert.deepStrictEqual(r.args, ["CLIENT", "REPLY", "ON"])
    assert.isTrue(needsDedicated(r))
    // OFF and SKIP would leave the connection waiting for replies that never come.
    assert.match(C.clientReply("OFF").invalid ?? "", /CLIENT REPLY OFF is not supported/)
    assert.match(C.clientReply("SKIP").invalid ?? "", /CLIENT REPLY SKIP is not supported/)
  })

  it("CLIENT TRACKING options", () => {
    const t = C.clientTracking(true, { bcast: true, prefixes: ["a:", "b:"], noloop: true, redirect: 9 })
    assert.deepStrictEqual(t.args, ["CLIENT", "TRACKING", "ON", "REDIRECT", 9, "PREFIX", "a:", "PREFIX", "b:", "BCAST", "NOLOOP"])
    assert.isString(C.clientTracking(true, { prefixes: ["a"] }).invalid)
    assert.isString(C.clientTracking(true, { optin: true, optout: true }).invalid)
    assert.deepStrictEqual(C.clientTracking(false).args, ["CLIENT", "TRACKING", "OFF"])
  })

  it("READONLY, READWRITE, RESET, QUIT are connection state", () => {
    for (const c of [C.readonly(), C.readwrite(), C.reset(), C.quit()]) {
      assert.strictEqual(c.flags & Flags.CONNECTION_STATE, Flags.CONNECTION_STATE)
      assert.strictEqual(c.args.length, 1)
      assert.strictEqual(c.name, c.args[0])
    }
    assert.strictEqual(C.reset().decode("RESET"), undefined)
  })

  it("raw: name from the first arg, options passed through, empty refused", () => {
    const c = C.raw(["object", "encoding", "k"], { keys: ["k"], flags: Flags.READONLY })
    assert.strictEqual(c.name, "OBJECT")
    assert.deepStrictEqual(c.args, ["object", "encoding", "k"])
    assert.deepStrictEqual(c.keys, ["k"])
    assert.strictEqual(c.flags, Flags.READONLY)
    assert.strictEqual(c.binary, false)
    const b = C.raw([new TextEncoder().encode("get"), "k"], { binary: true })
    assert.strictEqual(b.name, "GET")
    assert.strictEqual(b.binary, true)
    assert.strictEqual(b.flags, 0)
    assert.isString(C.raw([]).invalid)
    assert.isString(C.raw(["SET", "k", NaN]).invalid)
  })
})
