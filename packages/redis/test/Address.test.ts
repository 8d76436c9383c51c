/**
 * `Address.parse`, `format` and `equals`: IPv4, hostnames, bracketed and
 * bare IPv6, default ports, missing, invalid and out-of-range ports,
 * surrounding whitespace; and the round trips `parse(format(a)) = a` and
 * `format(parse(text)) = text` as properties over generated addresses.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import * as Address from "../src/Address.ts"

// -----------------------------------------------------------------------------
// parse
// -----------------------------------------------------------------------------

/** `[input, defaultPort, expected]`. */
const PARSED: ReadonlyArray<readonly [string, number | undefined, Address.Address | undefined]> = [
  // IPv4 and hostnames
  ["127.0.0.1:6379", undefined, { host: "127.0.0.1", port: 6379 }],
  ["10.0.0.2:1", undefined, { host: "10.0.0.2", port: 1 }],
  ["10.0.0.2:65535", undefined, { host: "10.0.0.2", port: 65535 }],
  ["localhost:7000", undefined, { host: "localhost", port: 7000 }],
  ["redis-1.cache.internal:6380", undefined, { host: "redis-1.cache.internal", port: 6380 }],
  // an explicit port wins over the default
  ["localhost:7000", 26379, { host: "localhost", port: 7000 }],
  // no port: the default, if any
  ["localhost", undefined, undefined],
  ["localhost", 26379, { host: "localhost", port: 26379 }],
  ["10.0.0.2", 26379, { host: "10.0.0.2", port: 26379 }],
  // IPv6
  ["[::1]:7000", undefined, { host: "::1", port: 7000 }],
  ["[2001:db8::7]:6379", undefined, { host: "2001:db8::7", port: 6379 }],
  ["[fe80::1ff:fe23:4567:890a]:26379", 1, { host: "fe80::1ff:fe23:4567:890a", port: 26379 }],
  ["::1", undefined, undefined],
  ["::1", 26379, { host: "::1", port: 26379 }],
  ["2001:db8::7", 26379, { host: "2001:db8::7", port: 26379 }],
  // an unbracketed IPv6 text is never split at its last colon: "::1:7000" is a host
  ["::1:7000", undefined, undefined],
  ["::1:7000", 26379, { host: "::1:7000", port: 26379 }],
  // whitespace around the text is ignored
  ["  127.0.0.1:6379\n", undefined, { host: "127.0.0.1", port: 6379 }],
  ["\t[::1]:7000 ", undefined, { host: "::1", port: 7000 }],
  [" localhost ", 26379, { host: "localhost", port: 26379 }],
  // missing host
  ["", undefined, undefined],
  ["", 26379, undefined],
  ["   ", 26379, undefined],
  [":7000", undefined, undefined],
  ["[]:7000", undefined, undefined],
  // empty, invalid and out-of-range ports (a trailing colon is a bad port, not an absent one)
  ["localhost:", undefined, undefined],
  ["localhost:", 26379, undefined],
  ["[::1]:", undefined, undefined],
  ["localhost:abc", undefined, undefined],
  ["localhost:abc", 26379, undefined],
  ["localhost:0", undefined, undefined],
  ["localhost:-1", undefined, undefined],
  ["localhost:65536", undefined, undefined],
  ["localhost:99999", 26379, undefined],
  ["localhost:6379.5", undefined, undefined],
  ["localhost:6379:", undefined, undefined]
]

describe("parse", () => {
  for (const [input, defaultPort, expected] of PARSED) {
    const label = `${JSON.stringify(input)}${defaultPort === undefined ? "" : ` (default ${defaultPort})`}`
    it(`${label} → ${expected === undefined ? "undefined" : `${expected.host} ${expected.port}`}`, () => {
      assert.deepStrictEqual(Address.parse(input, defaultPort), expected)
    })
  }

  it("returns an Address object as it is", () => {
    const address = { host: "10.0.0.2", port: 7000 }
    assert.strictEqual(Address.parse(address), address)
    assert.strictEqual(Address.parse(address, 26379), address)
  })
})

// Cells that were wrong once (found by this file): a bracketed host with a
// default port, and ports that are not plain decimal digits.
describe("parse: bracketed hosts and strict ports", () => {
  // "defaultPort is used when the text has no port": "[::1]" has none.
  it("\"[::1]\" with a default port gives ::1 on that port", () => {
    assert.deepStrictEqual(Address.parse("[::1]", 26379), { host: "::1", port: 26379 })
  })
  // `Number` reads more than decimal digits: these are no ports.
  for (const [input, today] of [
    ["localhost:0x1F90", 8080],
    ["localhost:1e3", 1000],
    ["localhost:+7000", 7000],
    ["localhost: 7000", 7000],
    ["localhost:7000.0", 7000]
  ] as const) {
    it(`${JSON.stringify(input)} has an invalid port (Number() would read ${today})`, () => {
      assert.isUndefined(Address.parse(input))
    })
  }
})

// -----------------------------------------------------------------------------
// format / equals
// -----------------------------------------------------------------------------

describe("format", () => {
  const FORMATTED: ReadonlyArray<readonly [Address.Address, string]> = [
    [{ host: "127.0.0.1", port: 6379 }, "127.0.0.1:6379"],
    [{ host: "redis.internal", port: 7000 }, "redis.internal:7000"],
    [{ host: "::1", port: 7000 }, "[::1]:7000"],
    [{ host: "2001:db8::7", port: 6379 }, "[2001:db8::7]:6379"],
    // a host already in brackets is not bracketed twice
    [{ host: "[::1]", port: 7000 }, "[::1]:7000"]
  ]
  for (const [address, text] of FORMATTED) {
    it(`${JSON.stringify(address)} → ${text}`, () => {
      assert.strictEqual(Address.format(address), text)
    })
  }
})

describe("equals", () => {
  it("same host and port", () => {
    assert.isTrue(Address.equals({ host: "::1", port: 7000 }, { host: "::1", port: 7000 }))
  })
  it("a different port or host is a different node", () => {
    assert.isFalse(Address.equals({ host: "::1", port: 7000 }, { host: "::1", port: 7001 }))
    assert.isFalse(Address.equals({ host: "10.0.0.1", port: 7000 }, { host: "10.0.0.2", port: 7000 }))
  })
  it("hosts are compared as text: no name resolution, no case folding", () => {
    assert.isFalse(Address.equals({ host: "localhost", port: 6379 }, { host: "127.0.0.1", port: 6379 }))
    assert.isFalse(Address.equals({ host: "Redis", port: 6379 }, { host: "redis", port: 6379 }))
  })
})

// -----------------------------------------------------------------------------
// round trips
// -----------------------------------------------------------------------------

const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

const port = Arbitrary.schema(int(1, 65535))

const ipv4 = Arbitrary.map(Arbitrary.array(Arbitrary.schema(int(0, 255)), { minLength: 4, maxLength: 4 }), (o) =>
  o.join("."))

const hostname = Arbitrary.map(
  Arbitrary.array(
    Arbitrary.schema(Schema.Literals(["a", "b", "z", "R", "0", "7", "-", ".", "_"])),
    { minLength: 1, maxLength: 24 }
  ),
  (chars) => chars.join("")
)

/** IPv6 text: 1 to 8 hex groups, fewer than 8 compressed with `::` at a generated position. */
const ipv6 = Arbitrary.map(
  Arbitrary.all([
    Arbitrary.array(Arbitrary.schema(int(0, 0xffff)), { minLength: 1, maxLength: 8 }),
    Arbitrary.schema(int(0, 8))
  ]),
  ([groups, at]) => {
    const hex = groups.map((g) => g.toString(16))
    if (hex.length === 8) return hex.join(":")
    const cut = Math.min(at, hex.length)
    return `${hex.slice(0, cut).join(":")}::${hex.slice(cut).join(":")}`
  }
)

describe("round trips", () => {
  it.prop("parse(format(a)) is a, for IPv4, hostname and IPv6 hosts", [ipv4, hostname, ipv6, port], (
    [v4, name, v6, p]
  ) => {
    for (const host of [v4, name, v6]) {
      const address = { host, port: p }
      const back = Address.parse(Address.format(address))
      assert.deepStrictEqual(back, address)
      assert.isTrue(Address.equals(back!, address))
    }
  })

  it.prop("format(parse(text)) is text, for the canonical forms", [ipv4, hostname, ipv6, port], ([v4, name, v6, p]) => {
    for (const text of [`${v4}:${p}`, `${name}:${p}`, `[${v6}]:${p}`]) {
      const address = Address.parse(text)
      assert.isDefined(address, text)
      assert.strictEqual(Address.format(address!), text)
    }
  })

  it.prop("a bare IPv6 host takes the default port and formats in brackets", [ipv6, port], ([v6, p]) => {
    if (!v6.includes(":")) return
    const address = Address.parse(v6, p)
    assert.deepStrictEqual(address, { host: v6, port: p })
    assert.strictEqual(Address.format(address!), `[${v6}]:${p}`)
  })

  it.prop("a port outside 1..65535 is refused", [hostname, Schema.Int], ([name, p]) => {
    if (p >= 1 && p <= 65535) return
    assert.isUndefined(Address.parse(`${name}:${p}`))
    assert.isUndefined(Address.parse(`${name}:${p}`, 6379))
  })
})
