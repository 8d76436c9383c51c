/**
 * `RedisConfig.parseUrl`: the `redis://`, `rediss://`, `valkey://`,
 * `valkeys://` and `unix://` forms, credentials (percent-encoded, in the
 * authority or the query), the database in the path or `?db=`, IPv6 hosts,
 * default ports, the query options it reads (`protocol`, `name`,
 * `clientName`, `username`, `password`; redis-py's `client_name`, timeouts
 * and `ssl_*` parameters), and the inputs it refuses, with the
 * `InvalidArgument` it refuses them with. Passwords come back `Redacted` and
 * never appear in an error message or in the printed options. `resolve`
 * merges the URL's TLS options with explicit ones and validates every
 * option added for redis-py parity, naming the one at fault.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { inspect } from "node:util"
import * as RedisConfig from "../src/RedisConfig.ts"
import * as RedisError from "../src/RedisError.ts"

const parse = (url: string) => Effect.runSyncExit(RedisConfig.parseUrl(url))

/** The parsed options with the password unwrapped (deep equality cannot see inside `Redacted`). */
const parsed = (url: string): Record<string, unknown> => {
  const exit = parse(url)
  if (Exit.isFailure(exit)) assert.fail(`${url} was refused: ${RedisError.failureOf(exit)?.message}`)
  const { password, ...rest } = exit.value
  if (password === undefined) return rest
  assert.isTrue(Redacted.isRedacted(password), "the password is Redacted")
  return { ...rest, password: Redacted.value(password) }
}

/** The error a refused URL fails with. */
const refused = (url: string): RedisError.RedisError => {
  const exit = parse(url)
  if (Exit.isSuccess(exit)) return assert.fail(`${url} was accepted: ${JSON.stringify(exit.value)}`)
  const error = RedisError.failureOf(exit)
  assert.isTrue(RedisError.isRedisError(error), "fails with a RedisError")
  return error!
}

const tcp = (host: string, port: number) => ({ _tag: "Tcp", host, port })
const unix = (path: string) => ({ _tag: "Unix", path })

// -----------------------------------------------------------------------------
// accepted
// -----------------------------------------------------------------------------

const ACCEPTED: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  // hosts and ports
  ["redis://localhost", { endpoint: tcp("localhost", 6379) }],
  ["redis://127.0.0.1:6380", { endpoint: tcp("127.0.0.1", 6380) }],
  ["redis://h:1", { endpoint: tcp("h", 1) }],
  ["redis://h:65535", { endpoint: tcp("h", 65535) }],
  ["redis://redis.example.com:7000/", { endpoint: tcp("redis.example.com", 7000) }],
  ["redis://[::1]", { endpoint: tcp("::1", 6379) }],
  ["redis://[::1]:6380/2", { endpoint: tcp("::1", 6380), database: 2 }],
  ["redis://[2001:db8::7]:7000", { endpoint: tcp("2001:db8::7", 7000) }],
  // TLS schemes
  ["rediss://h", { endpoint: tcp("h", 6379), tls: {} }],
  ["rediss://secure.example:6380/1", { endpoint: tcp("secure.example", 6380), tls: {}, database: 1 }],
  ["valkey://h", { endpoint: tcp("h", 6379) }],
  ["valkeys://h:7000", { endpoint: tcp("h", 7000), tls: {} }],
  // database
  ["redis://h/0", { endpoint: tcp("h", 6379), database: 0 }],
  ["redis://h/15", { endpoint: tcp("h", 6379), database: 15 }],
  ["redis://h?db=4", { endpoint: tcp("h", 6379), database: 4 }],
  ["redis://h/?db=4", { endpoint: tcp("h", 6379), database: 4 }],
  ["redis://h/1?db=4", { endpoint: tcp("h", 6379), database: 1 }],
  ["redis://h?db=", { endpoint: tcp("h", 6379) }],
  // credentials
  ["redis://alice:pw@h", { endpoint: tcp("h", 6379), username: "alice", password: "pw" }],
  ["redis://:pw@h", { endpoint: tcp("h", 6379), password: "pw" }],
  ["redis://alice@h", { endpoint: tcp("h", 6379), username: "alice" }],
  [
    "redis://alice:p%40ss%3Aw%2F%25%20x@h/3",
    { endpoint: tcp("h", 6379), username: "alice", password: "p@ss:w/% x", database: 3 }
  ],
  ["redis://al%40ice:pw@h", { endpoint: tcp("h", 6379), username: "al@ice", password: "pw" }],
  ["redis://:%E2%9C%93@h", { endpoint: tcp("h", 6379), password: "✓" }],
  ["redis://h?password=q%26x", { endpoint: tcp("h", 6379), password: "q&x" }],
  ["redis://h?username=alice&password=pw", { endpoint: tcp("h", 6379), username: "alice", password: "pw" }],
  // the authority wins over the query
  ["redis://u:p@h?username=x&password=y", { endpoint: tcp("h", 6379), username: "u", password: "p" }],
  ["redis://u:p@[::1]:6390/2", { endpoint: tcp("::1", 6390), username: "u", password: "p", database: 2 }],
  // query options
  ["redis://h?protocol=2", { endpoint: tcp("h", 6379), protocol: 2 }],
  ["redis://h?protocol=3", { endpoint: tcp("h", 6379), protocol: 3 }],
  ["redis://h?name=app", { endpoint: tcp("h", 6379), clientName: "app" }],
  ["redis://h?clientName=worker%201", { endpoint: tcp("h", 6379), clientName: "worker 1" }],
  ["redis://h?name=a&clientName=b", { endpoint: tcp("h", 6379), clientName: "a" }],
  ["redis://h?unknownOption=1", { endpoint: tcp("h", 6379) }],
  // unix sockets
  ["unix:///tmp/redis.sock", { endpoint: unix("/tmp/redis.sock") }],
  ["unix:/tmp/redis.sock", { endpoint: unix("/tmp/redis.sock") }],
  ["unix:///var/run/my%20redis.sock", { endpoint: unix("/var/run/my redis.sock") }],
  ["unix:///tmp/redis.sock?db=2&password=s3cr%20t", { endpoint: unix("/tmp/redis.sock"), database: 2, password: "s3cr t" }],
  [
    "unix:///tmp/redis.sock?username=u&password=p&name=n&protocol=2",
    { endpoint: unix("/tmp/redis.sock"), username: "u", password: "p", clientName: "n", protocol: 2 }
  ]
]

describe("parseUrl accepts", () => {
  for (const [url, expected] of ACCEPTED) {
    it(url, () => {
      assert.deepStrictEqual(parsed(url), expected)
    })
  }

  it.prop(
    "any password, percent-encoded in the URL, comes back as it was",
    [Schema.String],
    ([password]) => {
      let encoded: string
      try {
        encoded = encodeURIComponent(password)
      } catch {
        return // a lone surrogate has no URL form
      }
      const options = parsed(`redis://user:${encoded}@h:6379/0`)
      assert.deepStrictEqual(
        options,
        password === ""
          ? { endpoint: tcp("h", 6379), username: "user", database: 0 }
          : { endpoint: tcp("h", 6379), username: "user", password, database: 0 }
      )
    }
  )
})

// -----------------------------------------------------------------------------
// refused
// -----------------------------------------------------------------------------

/** `[url, a fragment of the message]`. */
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ["", "does not parse as a URL"],
  ["not a url", "does not parse as a URL"],
  ["localhost:6379", "unsupported scheme localhost:"],
  ["http://h", "unsupported scheme http:"],
  ["tcp://h:6379", "unsupported scheme tcp:"],
  ["redis+unix:///tmp/redis.sock", "unsupported scheme redis+unix:"],
  ["redis-socket:///tmp/redis.sock", "unsupported scheme redis-socket:"],
  ["redis://h:65536", "does not parse as a URL"],
  ["redis://h:99999", "does not parse as a URL"],
  ["redis://h:abc", "does not parse as a URL"],
  ["redis://h:-1", "does not parse as a URL"],
  ["redis://[::1", "does not parse as a URL"],
  ["redis://", "names no host"],
  ["redis:///2", "names no host"],
  ["rediss://?db=1", "names no host"],
  ["redis://h/abc", "the database must be a non-negative integer"],
  ["redis://h/-1", "the database must be a non-negative integer"],
  ["redis://h/1.5", "the database must be a non-negative integer"],
  ["redis://h/1/2", "the database must be a non-negative integer"],
  ["redis://h?db=-1", "the database must be a non-negative integer"],
  ["redis://h?db=x", "the database must be a non-negative integer"],
  ["unix://", "names no socket path"],
  ["unix:///", "names no socket path"],
  ["unix:///tmp/redis.sock?db=x", "the database must be a non-negative integer"],
  ["redis://h?protocol=4", "protocol must be 2 or 3"],
  ["redis://h?protocol=resp3", "protocol must be 2 or 3"],
  ["unix:///tmp/redis.sock?protocol=1", "protocol must be 2 or 3"]
]

describe("parseUrl refuses", () => {
  for (const [url, why] of REFUSED) {
    it(`${JSON.stringify(url)}: ${why}`, () => {
      const error = refused(url)
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.strictEqual(error.outcome, "NotSent")
      assert.include(error.message, "invalid Redis URL")
      assert.include(error.message, why)
    })
  }

  it("port 0 parses, and resolving the options refuses it", () => {
    assert.deepStrictEqual(parsed("redis://h:0"), { endpoint: tcp("h", 0) })
    const exit = Effect.runSyncExit(RedisConfig.resolve({ url: "redis://h:0" }))
    const error = RedisError.failureOf(exit)
    assert.strictEqual(error?.reason._tag, "InvalidArgument")
    assert.include(error?.message, "invalid port 0")
  })
})

// "The database must be a non-negative integer" written in decimal digits:
// `Number` alone would read these (it once did).
describe("parseUrl: non-decimal database numbers are refused", () => {
  for (const [url, today] of [["redis://h/0x10", 16], ["redis://h/1e1", 10], ["redis://h/+1", 1]] as const) {
    it(`${url} is refused (Number() would read database ${today})`, () => {
      refused(url)
    })
  }
})

// -----------------------------------------------------------------------------
// secrets
// -----------------------------------------------------------------------------

const SECRET = "Sup3r$ecret"
const ENCODED = encodeURIComponent(SECRET)

describe("passwords", () => {
  const failing = [
    `redis://u:${ENCODED}@h:bad`,
    `redis://u:${ENCODED}@h:99999`,
    `redis://:${ENCODED}@h/abc`,
    `redis://:${ENCODED}@h?protocol=9`,
    `redis://:${ENCODED}@`,
    `http://u:${ENCODED}@h`,
    `redis+unix://:${ENCODED}@/tmp/x`,
    `unix:///tmp/s?password=${ENCODED}&db=x`,
    `unix:///?password=${ENCODED}`,
    `${SECRET} is not a URL`
  ]
  for (const url of failing) {
    it(`never appear in the error for ${url.replace(ENCODED, "<secret>").replace(SECRET, "<secret>")}`, () => {
      const error = refused(url)
      for (const text of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
        assert.notInclude(text, SECRET)
        assert.notInclude(text, ENCODED)
      }
    })
  }

  it("come back Redacted: printing the options never shows them", () => {
    for (const url of [`redis://u:${ENCODED}@h`, `rediss://:${ENCODED}@h`, `unix:///tmp/s?password=${ENCODED}`]) {
      const exit = parse(url)
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const password = exit.value.password!
      assert.isTrue(Redacted.isRedacted(password))
      assert.strictEqual(Redacted.value(password), SECRET)
      for (const text of [String(password), JSON.stringify(exit.value), inspect(exit.value, { depth: 10 })]) {
        assert.notInclude(text, SECRET)
        assert.notInclude(text, ENCODED)
      }
    }
  })
})

// -----------------------------------------------------------------------------
// query options (redis-py names): timeouts, client_name, ssl_*
// -----------------------------------------------------------------------------

describe("parseUrl: query options", () => {
  const QUERY: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ["redis://h?client_name=app", { endpoint: tcp("h", 6379), clientName: "app" }],
    ["redis://h?socket_connect_timeout=5", { endpoint: tcp("h", 6379), connectTimeout: Duration.seconds(5) }],
    ["redis://h?connect_timeout=0.25", { endpoint: tcp("h", 6379), connectTimeout: Duration.millis(250) }],
    ["redis://h?connectTimeout=750ms", { endpoint: tcp("h", 6379), connectTimeout: Duration.millis(750) }],
    ["redis://h?socket_timeout=2s", { endpoint: tcp("h", 6379), commandTimeout: Duration.seconds(2) }],
    ["redis://h?command_timeout=1.5", { endpoint: tcp("h", 6379), commandTimeout: Duration.millis(1500) }],
    ["redis://h?health_check_interval=30", { endpoint: tcp("h", 6379), healthCheckInterval: Duration.seconds(30) }],
    [
      "unix:///tmp/r.sock?protocol=2&socket_timeout=1&client_name=w",
      { endpoint: unix("/tmp/r.sock"), protocol: 2, commandTimeout: Duration.seconds(1), clientName: "w" }
    ],
    ["rediss://h?ssl_cert_reqs=none", { endpoint: tcp("h", 6379), tls: { rejectUnauthorized: false } }],
    ["rediss://h?ssl_cert_reqs=required", { endpoint: tcp("h", 6379), tls: { rejectUnauthorized: true } }],
    [
      "rediss://h?ssl_ca_certs=%2Fetc%2Fca.pem&ssl_certfile=%2Fc.pem&ssl_keyfile=%2Fk.pem",
      { endpoint: tcp("h", 6379), tls: { caFile: "/etc/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" } }
    ],
    ["rediss://h?ssl_min_version=TLSv1_3", { endpoint: tcp("h", 6379), tls: { minVersion: "TLSv1.3" } }],
    ["rediss://h?ssl_min_version=TLSv1.2", { endpoint: tcp("h", 6379), tls: { minVersion: "TLSv1.2" } }],
    ["valkeys://h?ssl_ciphers=ECDHE-RSA-AES128-GCM-SHA256", {
      endpoint: tcp("h", 6379),
      tls: { ciphers: "ECDHE-RSA-AES128-GCM-SHA256" }
    }]
  ]
  for (const [url, expected] of QUERY) {
    it(url, () => {
      assert.deepStrictEqual(parsed(url), expected)
    })
  }

  it("ssl_password comes back Redacted as tls.passphrase, and is never printed", () => {
    const exit = parse(`rediss://h?ssl_keyfile=%2Fk.pem&ssl_password=${ENCODED}`)
    assert.isTrue(Exit.isSuccess(exit))
    if (!Exit.isSuccess(exit)) return
    const passphrase = exit.value.tls?.passphrase
    assert.isTrue(Redacted.isRedacted(passphrase))
    assert.strictEqual(Redacted.value(passphrase!), SECRET)
    assert.notInclude(inspect(exit.value, { depth: 10 }), SECRET)
  })

  const BAD: ReadonlyArray<readonly [string, string]> = [
    ["redis://h?socket_timeout=soon", "socket_timeout must be a number of seconds"],
    ["redis://h?connect_timeout=-1", "connect_timeout must be a number of seconds"],
    ["redis://h?health_check_interval=1m", "health_check_interval must be a number of seconds"],
    ["redis://h?ssl_ca_certs=%2Fca.pem", "ssl_ca_certs needs a TLS URL (rediss://)"],
    ["unix:///tmp/r.sock?ssl_cert_reqs=none", "ssl_cert_reqs needs a TLS URL"],
    ["rediss://h?ssl_cert_reqs=maybe", "ssl_cert_reqs must be none, optional or required"],
    ["rediss://h?ssl_min_version=SSLv3", "ssl_min_version must be one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"],
    ["rediss://h?ssl_ca_certs=", "ssl_ca_certs is empty"]
  ]
  for (const [url, why] of BAD) {
    it(`refuses ${url}: ${why}`, () => {
      const error = refused(url)
      assert.strictEqual(error.reason._tag, "InvalidArgument")
      assert.include(error.message, why)
    })
  }

  it("resolve: the URL's ssl_* and an explicit tls add up, explicit fields winning", () => {
    const exit = Effect.runSyncExit(RedisConfig.resolve({
      url: "rediss://h?ssl_ca_certs=%2Fca.pem&ssl_min_version=TLSv1_2",
      tls: { minVersion: "TLSv1.3", servername: "redis.internal" }
    }))
    assert.isTrue(Exit.isSuccess(exit))
    if (Exit.isSuccess(exit)) {
      assert.deepStrictEqual(exit.value.tls, { caFile: "/ca.pem", minVersion: "TLSv1.3", servername: "redis.internal" })
    }
  })

  it("resolve: explicit timeouts win over the URL's", () => {
    const exit = Effect.runSyncExit(RedisConfig.resolve({ url: "redis://h?socket_timeout=5", commandTimeout: "1 second" }))
    assert.isTrue(Exit.isSuccess(exit))
    if (Exit.isSuccess(exit)) assert.strictEqual(exit.value.commandTimeout, "1 second")
  })
})

// -----------------------------------------------------------------------------
// validation of the options (resolve runs it: every layer checks at build)
// -----------------------------------------------------------------------------

describe("resolve validates the options, naming the one at fault", () => {
  const BAD: ReadonlyArray<readonly [string, RedisConfig.ClientOptions, string]> = [
    ["libName with a space", { libName: "my lib" }, "libName must be printable ASCII"],
    ["libVersion with a newline", { libVersion: "1\n2" }, "libVersion must be printable ASCII"],
    ["libName empty", { libName: "" }, "libName must be printable ASCII"],
    ["libName with setInfo off", { libName: "x", setInfo: false }, "libName is sent with CLIENT SETINFO"],
    ["onConnect not a function", { onConnect: "yes" as never }, "onConnect must be a function"],
    ["keepAlive negative", { keepAlive: -1 }, "keepAlive must be a finite, non-negative duration"],
    ["keepAliveInterval under a second", { keepAliveInterval: "500 millis" }, "keepAliveInterval must be a finite duration of at least 1 second"],
    ["keepAliveInterval infinite", { keepAliveInterval: "Infinity" }, "keepAliveInterval must be"],
    ["keepAliveCount 0", { keepAliveCount: 0 }, "keepAliveCount must be an integer from 1 to 127"],
    ["keepAliveCount 128", { keepAliveCount: 128 }, "keepAliveCount must be an integer from 1 to 127"],
    ["keepAliveCount 2.5", { keepAliveCount: 2.5 }, "keepAliveCount must be an integer"],
    ["probes with keepalive off", { keepAlive: 0, keepAliveCount: 3 }, "need keepalive on"],
    ["stallTimeout negative", { stallTimeout: -1 }, "stallTimeout must be a finite, non-negative duration"],
    ["stallTimeout infinite", { stallTimeout: "Infinity" }, "stallTimeout must be"],
    ["probeTimeout zero", { probeTimeout: 0 }, "probeTimeout must be a finite, positive duration"],
    ["probeTimeout infinite", { probeTimeout: "Infinity" }, "probeTimeout must be"],
    ["tls.ca and tls.caFile", { tls: { ca: "PEM", caFile: "/ca.pem" } }, "give tls.ca or tls.caFile, not both"],
    ["tls.certFile empty", { tls: { certFile: "" } }, "tls.certFile must be a non-empty path"],
    ["tls.passphrase as a string", { tls: { keyFile: "/k", passphrase: "x" as never } }, "tls.passphrase must be Redacted"],
    ["tls.passphrase without a key", { tls: { passphrase: Redacted.make("x") } }, "tls.passphrase decrypts a client key"],
    ["tls.minVersion unknown", { tls: { minVersion: "TLSv2" as never } }, "tls.minVersion must be one of"],
    ["tls.ciphers blank", { tls: { ciphers: "  " } }, "tls.ciphers must be a non-empty OpenSSL cipher list"]
  ]
  for (const [label, options, why] of BAD) {
    it(label, () => {
      const error = RedisError.failureOf(Effect.runSyncExit(RedisConfig.resolve(options)))
      assert.strictEqual(error?.reason._tag, "InvalidArgument")
      assert.strictEqual(error?.outcome, "NotSent")
      assert.include(error?.message, why)
    })
  }

  it("accepts the new options when they are right", () => {
    const exit = Effect.runSyncExit(RedisConfig.resolve({
      libName: "my-framework(v1)",
      libVersion: "1.2.3",
      onConnect: () => Effect.void,
      keepAlive: "10 seconds",
      keepAliveInterval: "2 seconds",
      keepAliveCount: 3,
      stallTimeout: "2 seconds",
      probeTimeout: "1 second",
      tls: { keyFile: "/k.pem", passphrase: Redacted.make("pw"), minVersion: "TLSv1.2", ciphers: "HIGH", caFile: "/ca.pem" }
    }))
    assert.isTrue(Exit.isSuccess(exit), String(RedisError.failureOf(exit)?.message))
  })
})

describe("dead-peer detection and keepalive defaults", () => {
  it("stallTimeout 5 s and probeTimeout 3 s: a peer silent for longer than their sum is dead; stallTimeout 0 turns it off", () => {
    assert.strictEqual(Duration.toMillis(RedisConfig.defaultStallTimeout), 5000)
    assert.strictEqual(Duration.toMillis(RedisConfig.defaultProbeTimeout), 3000)
    const off = Effect.runSyncExit(RedisConfig.resolve({ stallTimeout: 0 }))
    assert.isTrue(Exit.isSuccess(off))
  })

  it("keepalive: 30 s, then 3 probes 10 s apart", () => {
    assert.strictEqual(Duration.toMillis(RedisConfig.defaultKeepAlive), 30_000)
    assert.strictEqual(Duration.toMillis(RedisConfig.defaultKeepAliveInterval), 10_000)
    assert.strictEqual(RedisConfig.defaultKeepAliveCount, 3)
  })
})
