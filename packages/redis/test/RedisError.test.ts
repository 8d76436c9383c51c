/**
 * `RedisError.classify` over the error texts a Redis 7.0 server really sends
 * (collected from throwaway `redis-server` processes: standalone, replica,
 * and a two-node cluster bound to `::1`; LOADING from the server source),
 * the `isRetryable` of every reason, and `failureOf` / `firstFailure` over
 * every kind of exit. Pure: no server.
 *
 * The texts are given without the leading `-`, as `classify` receives them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as RedisError from "../src/RedisError.ts"

const {
  Ask,
  AuthError,
  Busy,
  ClusterCheckFailed,
  ClusterDown,
  Closed,
  ConnectionError,
  CrossSlot,
  DecodeError,
  ExecAbort,
  InvalidArgument,
  Loading,
  MasterDown,
  MasterNotFound,
  Moved,
  NoScript,
  NotSupported,
  ProtocolError,
  ReadOnly,
  ReplyError,
  Timeout,
  TryAgain
} = RedisError

/**
 * A reason as plain data: its class, its fields and its message. Chai's deep
 * equality compares Error objects by name and message only, which would let
 * a wrong `host`, `port` or `watchConflict` pass.
 */
const plain = (reason: RedisError.RedisErrorReason): Record<string, unknown> => ({
  class: reason.constructor.name,
  message: reason.message,
  ...Object.fromEntries(Object.entries(reason).filter(([key]) => !key.startsWith("~")))
})

// -----------------------------------------------------------------------------
// classify
// -----------------------------------------------------------------------------

/** `[why, server text, expected reason]`. The expected reason is built by hand from the text. */
const TABLE: ReadonlyArray<readonly [string, string, RedisError.RedisErrorReason]> = [
  // MOVED / ASK (7.0 formats the host without brackets, whatever its family)
  ["MOVED to an IPv4 node", "MOVED 3999 127.0.0.1:6381", new Moved({ slot: 3999, host: "127.0.0.1", port: 6381 })],
  ["MOVED to a hostname", "MOVED 0 redis-2.internal:7000", new Moved({ slot: 0, host: "redis-2.internal", port: 7000 })],
  ["MOVED to the last slot", "MOVED 16383 10.0.0.9:7005", new Moved({ slot: 16383, host: "10.0.0.9", port: 7005 })],
  [
    "MOVED to an IPv6 node, as 7.0 sends it (no brackets)",
    "MOVED 12182 ::1:32819",
    new Moved({ slot: 12182, host: "::1", port: 32819 })
  ],
  ["MOVED to an unbracketed ::1", "MOVED 3999 ::1:6381", new Moved({ slot: 3999, host: "::1", port: 6381 })],
  [
    "MOVED to an unbracketed full IPv6 address",
    "MOVED 3999 fe80::1ff:fe23:4567:890a:6381",
    new Moved({ slot: 3999, host: "fe80::1ff:fe23:4567:890a", port: 6381 })
  ],
  ["MOVED to a bracketed IPv6 node", "MOVED 3999 [::1]:6381", new Moved({ slot: 3999, host: "::1", port: 6381 })],
  [
    "MOVED with an empty host (cluster-preferred-endpoint-type unknown-endpoint)",
    "MOVED 3999 :6380",
    new Moved({ slot: 3999, host: "", port: 6380 })
  ],
  [
    "MOVED with `?` (preferred endpoint hostname, none set): the marker is kept for the topology to judge",
    "MOVED 12182 ?:32819",
    new Moved({ slot: 12182, host: "?", port: 32819 })
  ],
  ["ASK to an IPv4 node", "ASK 3999 10.0.0.2:7001", new Ask({ slot: 3999, host: "10.0.0.2", port: 7001 })],
  ["ASK to an IPv6 node, as 7.0 sends it", "ASK 15495 ::1:44691", new Ask({ slot: 15495, host: "::1", port: 44691 })],
  ["ASK to a bracketed IPv6 node", "ASK 1 [2001:db8::7]:7002", new Ask({ slot: 1, host: "2001:db8::7", port: 7002 })],
  // malformed redirects fall back to a ReplyError carrying the whole text
  ["MOVED alone", "MOVED", new ReplyError({ code: "MOVED", message: "MOVED" })],
  ["MOVED without an address", "MOVED 3999", new ReplyError({ code: "MOVED", message: "MOVED 3999" })],
  [
    "MOVED without a port",
    "MOVED 3999 127.0.0.1",
    new ReplyError({ code: "MOVED", message: "MOVED 3999 127.0.0.1" })
  ],
  [
    "MOVED with a port that is no number",
    "MOVED 3999 127.0.0.1:abc",
    new ReplyError({ code: "MOVED", message: "MOVED 3999 127.0.0.1:abc" })
  ],
  [
    "MOVED with a slot that is no number",
    "MOVED abc 127.0.0.1:6381",
    new ReplyError({ code: "MOVED", message: "MOVED abc 127.0.0.1:6381" })
  ],
  [
    "MOVED with a fractional slot",
    "MOVED 39.5 127.0.0.1:6381",
    new ReplyError({ code: "MOVED", message: "MOVED 39.5 127.0.0.1:6381" })
  ],
  [
    "MOVED with trailing words",
    "MOVED 3999 127.0.0.1:6381 extra",
    new ReplyError({ code: "MOVED", message: "MOVED 3999 127.0.0.1:6381 extra" })
  ],
  ["ASK without an address", "ASK 3999", new ReplyError({ code: "ASK", message: "ASK 3999" })],
  ["ASK without a port", "ASK 3999 10.0.0.2", new ReplyError({ code: "ASK", message: "ASK 3999 10.0.0.2" })],
  // cluster states
  [
    "TRYAGAIN (multi-key read on a migrating slot)",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    new TryAgain({ message: "TRYAGAIN Multiple keys request during rehashing of slot" })
  ],
  [
    "CLUSTERDOWN, state fail",
    "CLUSTERDOWN The cluster is down",
    new ClusterDown({ message: "CLUSTERDOWN The cluster is down" })
  ],
  [
    "CLUSTERDOWN, slot not covered",
    "CLUSTERDOWN Hash slot not served",
    new ClusterDown({ message: "CLUSTERDOWN Hash slot not served" })
  ],
  [
    "CROSSSLOT",
    "CROSSSLOT Keys in request don't hash to the same slot",
    new CrossSlot({ message: "CROSSSLOT Keys in request don't hash to the same slot" })
  ],
  // server states
  [
    "LOADING",
    "LOADING Redis is loading the dataset in memory",
    new Loading({ message: "LOADING Redis is loading the dataset in memory" })
  ],
  [
    "READONLY (write to a replica)",
    "READONLY You can't write against a read only replica.",
    new ReadOnly({ message: "READONLY You can't write against a read only replica." })
  ],
  [
    "UNBLOCKED (a blocked command on a primary that became a replica: it did not run)",
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
    new ReadOnly({ message: "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)" })
  ],
  [
    "UNBLOCKED by CLIENT UNBLOCK ... ERROR (the caller's own doing: not a demotion)",
    "UNBLOCKED client unblocked via CLIENT UNBLOCK",
    new ReplyError({ code: "UNBLOCKED", message: "UNBLOCKED client unblocked via CLIENT UNBLOCK" })
  ],
  [
    "MASTERDOWN (replica-serve-stale-data no)",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    new MasterDown({ message: "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'." })
  ],
  [
    "BUSY (script past its time limit)",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    new Busy({ message: "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE." })
  ],
  [
    "NOSCRIPT",
    "NOSCRIPT No matching script. Please use EVAL.",
    new NoScript({ message: "NOSCRIPT No matching script. Please use EVAL." })
  ],
  [
    "EXECABORT is not a WATCH conflict",
    "EXECABORT Transaction discarded because of previous errors.",
    new ExecAbort({ message: "EXECABORT Transaction discarded because of previous errors.", watchConflict: false })
  ],
  // authentication
  [
    "WRONGPASS (7.0)",
    "WRONGPASS invalid username-password pair or user is disabled.",
    new AuthError({ message: "WRONGPASS invalid username-password pair or user is disabled." })
  ],
  ["NOAUTH", "NOAUTH Authentication required.", new AuthError({ message: "NOAUTH Authentication required." })],
  [
    "NOAUTH from HELLO",
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    new AuthError({
      message:
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
    })
  ],
  ["a server older than 6 refusing AUTH", "ERR invalid password", new AuthError({ message: "ERR invalid password" })],
  [
    "the pre-WRONGPASS ACL text",
    "ERR invalid username-password pair",
    new AuthError({ message: "ERR invalid username-password pair" })
  ],
  [
    "AUTH to a server without a password is a plain ERR (the handshake, not classify, calls it an auth failure)",
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    new ReplyError({
      code: "ERR",
      message:
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    })
  ],
  // everything else is a ReplyError named by its first word
  [
    "WRONGTYPE",
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    new ReplyError({ code: "WRONGTYPE", message: "WRONGTYPE Operation against a key holding the wrong kind of value" })
  ],
  [
    "ERR unknown command",
    "ERR unknown command 'foo', with args beginning with: ",
    new ReplyError({ code: "ERR", message: "ERR unknown command 'foo', with args beginning with: " })
  ],
  ["ERR syntax error", "ERR syntax error", new ReplyError({ code: "ERR", message: "ERR syntax error" })],
  [
    "NOPERM (ACL)",
    "NOPERM this user has no permissions to run the 'set' command",
    new ReplyError({ code: "NOPERM", message: "NOPERM this user has no permissions to run the 'set' command" })
  ],
  [
    "OOM",
    "OOM command not allowed when used memory > 'maxmemory'.",
    new ReplyError({ code: "OOM", message: "OOM command not allowed when used memory > 'maxmemory'." })
  ],
  [
    "BUSYKEY is not BUSY",
    "BUSYKEY Target key name already exists.",
    new ReplyError({ code: "BUSYKEY", message: "BUSYKEY Target key name already exists." })
  ],
  [
    "BUSYGROUP is not BUSY",
    "BUSYGROUP Consumer Group name already exists",
    new ReplyError({ code: "BUSYGROUP", message: "BUSYGROUP Consumer Group name already exists" })
  ],
  [
    "NOTBUSY is not BUSY",
    "NOTBUSY No scripts in execution right now.",
    new ReplyError({ code: "NOTBUSY", message: "NOTBUSY No scripts in execution right now." })
  ],
  [
    "NOPROTO (HELLO 4)",
    "NOPROTO unsupported protocol version",
    new ReplyError({ code: "NOPROTO", message: "NOPROTO unsupported protocol version" })
  ],
  // codes are case-sensitive: a lower-case code is unknown
  [
    "lower-case moved",
    "moved 3999 127.0.0.1:6381",
    new ReplyError({ code: "moved", message: "moved 3999 127.0.0.1:6381" })
  ],
  ["lower-case wrongpass", "wrongpass nope", new ReplyError({ code: "wrongpass", message: "wrongpass nope" })],
  [
    "an unknown code",
    "FROBNICATED the widget is frobnicated",
    new ReplyError({ code: "FROBNICATED", message: "FROBNICATED the widget is frobnicated" })
  ],
  ["a single unknown word", "FOO", new ReplyError({ code: "FOO", message: "FOO" })],
  ["an empty text", "", new ReplyError({ code: "", message: "" })]
]

describe("classify", () => {
  for (const [why, text, expected] of TABLE) {
    it(`${why}: ${JSON.stringify(text)} → ${expected._tag}`, () => {
      const reason = RedisError.classify(text)
      assert.strictEqual(reason._tag, expected._tag)
      assert.deepStrictEqual(plain(reason), plain(expected))
      assert.isTrue(RedisError.isRedisErrorReason(reason))
    })
  }

  it.prop(
    "is total: any text gives a reason, and every reason but a redirect keeps the whole text",
    [Schema.String],
    ([text]) => {
      const reason = RedisError.classify(text)
      assert.isTrue(RedisError.isRedisErrorReason(reason))
      if (reason._tag !== "Moved" && reason._tag !== "Ask") assert.strictEqual(reason.message, text)
      if (reason._tag === "ReplyError") assert.strictEqual(reason.code, text.split(" ")[0])
    }
  )

  it.prop(
    "MOVED and ASK to any slot and IPv4 port parse back to their parts",
    [
      Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 16383 })),
      Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 })),
      Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
    ],
    ([slot, octet, port]) => {
      const host = `10.${octet}.0.${255 - octet}`
      const same = (text: string, expected: RedisError.RedisErrorReason) =>
        assert.deepStrictEqual(plain(RedisError.classify(text)), plain(expected))
      same(`MOVED ${slot} ${host}:${port}`, new Moved({ slot, host, port }))
      same(`ASK ${slot} ${host}:${port}`, new Ask({ slot, host, port }))
      // an IPv6 host, bracketed or as 7.0 sends it
      const v6 = `2001:db8::${octet.toString(16)}`
      same(`MOVED ${slot} ${v6}:${port}`, new Moved({ slot, host: v6, port }))
      same(`ASK ${slot} [${v6}]:${port}`, new Ask({ slot, host: v6, port }))
    }
  )
})

// A malformed MOVED/ASK falls back to ReplyError: a port outside 1..65535 or
// a slot outside 0..16383 is malformed (these were once accepted).
describe("classify: out-of-range redirects are malformed", () => {
  it("MOVED with an empty port is malformed: \"MOVED 3999 127.0.0.1:\"", () => {
    assert.strictEqual(RedisError.classify("MOVED 3999 127.0.0.1:")._tag, "ReplyError")
  })
  it("MOVED to a slot past 16383 is malformed: \"MOVED 16384 127.0.0.1:6381\"", () => {
    assert.strictEqual(RedisError.classify("MOVED 16384 127.0.0.1:6381")._tag, "ReplyError")
  })
  it("MOVED to a negative slot is malformed: \"MOVED -1 127.0.0.1:6381\"", () => {
    assert.strictEqual(RedisError.classify("MOVED -1 127.0.0.1:6381")._tag, "ReplyError")
  })
  it("ASK to port 70000 is malformed: \"ASK 1 127.0.0.1:70000\"", () => {
    assert.strictEqual(RedisError.classify("ASK 1 127.0.0.1:70000")._tag, "ReplyError")
  })
})

// -----------------------------------------------------------------------------
// isRetryable
// -----------------------------------------------------------------------------

/** One reason of every tag (ExecAbort twice) and whether its docs call it retryable. */
const RETRYABLE: ReadonlyArray<readonly [RedisError.RedisErrorReason, boolean]> = [
  [new ReplyError({ code: "ERR", message: "ERR syntax error" }), false],
  [new ConnectionError({ message: "connect ECONNREFUSED 127.0.0.1:6379" }), true],
  [new Timeout({ message: "no reply", millis: 100 }), true],
  [new ProtocolError({ message: "bad frame" }), false],
  [new AuthError({ message: "WRONGPASS" }), false],
  [new NoScript({ message: "NOSCRIPT" }), false],
  [new Loading({ message: "LOADING" }), true],
  [new ReadOnly({ message: "READONLY" }), true],
  [new Busy({ message: "BUSY" }), true],
  [new Moved({ slot: 1, host: "h", port: 1 }), true],
  [new Ask({ slot: 1, host: "h", port: 1 }), true],
  [new TryAgain({ message: "TRYAGAIN" }), true],
  [new ClusterDown({ message: "CLUSTERDOWN" }), true],
  [new CrossSlot({ message: "CROSSSLOT" }), false],
  [new MasterDown({ message: "MASTERDOWN" }), true],
  [new MasterNotFound({ message: "no sentinel answered", masterName: "mymaster" }), true],
  [new ExecAbort({ message: "EXECABORT", watchConflict: false }), false],
  [new ExecAbort({ message: "WATCH", watchConflict: true }), true],
  [new DecodeError({ key: "k", message: "bad value", raw: "x" }), false],
  [new InvalidArgument({ message: "NaN" }), false],
  [new NotSupported({ message: "later" }), false],
  [new ClusterCheckFailed({ message: "broken", problems: ["slot 0 uncovered"] }), false],
  [new Closed({ message: "closed" }), false]
]

describe("isRetryable", () => {
  it("the table names every reason of the union", () => {
    const tags = new Set(RETRYABLE.map(([reason]) => reason._tag))
    assert.strictEqual(tags.size, RedisError.RedisErrorReason.members.length)
  })

  for (const [reason, retryable] of RETRYABLE) {
    const label = reason._tag === "ExecAbort" ? `ExecAbort (watchConflict: ${reason.watchConflict})` : reason._tag
    it(`${label} is ${retryable ? "" : "not "}retryable, and so is a RedisError carrying it`, () => {
      assert.strictEqual(reason.isRetryable, retryable)
      for (const outcome of ["NotSent", "Rejected", "Unknown"] as const) {
        assert.strictEqual(RedisError.make(reason, outcome).isRetryable, retryable)
      }
    })
  }
})

// -----------------------------------------------------------------------------
// failureOf / firstFailure
// -----------------------------------------------------------------------------

const e1 = RedisError.make(new ConnectionError({ message: "lost" }), "Unknown", "GET")
const e2 = RedisError.make(new ReplyError({ code: "ERR", message: "ERR syntax error" }), "Rejected", "SET")

describe("failureOf", () => {
  it("a success has no failure", () => {
    assert.isUndefined(RedisError.failureOf(Exit.succeed("OK")))
  })

  it("a failure gives its error, the same object", () => {
    assert.strictEqual(RedisError.failureOf(Exit.fail(e1)), e1)
  })

  it("a defect is no failure", () => {
    assert.isUndefined(RedisError.failureOf(Exit.die(new Error("boom"))))
  })

  it("an interruption is no failure", () => {
    assert.isUndefined(RedisError.failureOf(Exit.interrupt(1)))
    assert.isUndefined(RedisError.failureOf(Exit.interrupt()))
  })

  it("a failure behind a defect or an interruption is still found", () => {
    assert.strictEqual(RedisError.failureOf(Exit.failCause(Cause.combine(Cause.die("boom"), Cause.fail(e2)))), e2)
    assert.strictEqual(RedisError.failureOf(Exit.failCause(Cause.combine(Cause.interrupt(7), Cause.fail(e2)))), e2)
  })

  it("of several failures, the first", () => {
    assert.strictEqual(RedisError.failureOf(Exit.failCause(Cause.combine(Cause.fail(e1), Cause.fail(e2)))), e1)
    assert.strictEqual(RedisError.failureOf(Exit.failCause(Cause.combine(Cause.fail(e2), Cause.fail(e1)))), e2)
  })
})

describe("firstFailure", () => {
  it("no exits, no failure", () => {
    assert.isUndefined(RedisError.firstFailure([]))
  })

  it("successes, defects and interruptions give no failure", () => {
    assert.isUndefined(RedisError.firstFailure([Exit.succeed(1), Exit.die("boom"), Exit.interrupt(3), Exit.void]))
  })

  it("the failure of the first failed exit, skipping defects and interruptions before it", () => {
    assert.strictEqual(
      RedisError.firstFailure<RedisError.RedisError>([Exit.succeed(1), Exit.die("boom"), Exit.fail(e2), Exit.fail(e1)]),
      e2
    )
    assert.strictEqual(
      RedisError.firstFailure<RedisError.RedisError>([Exit.interrupt(), Exit.fail(e1), Exit.fail(e2)]),
      e1
    )
  })
})
