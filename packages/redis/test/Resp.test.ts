/**
 * The RESP codec: every reply type from golden bytes, fed whole, byte by byte
 * and in random splits; malformed and hostile input; the command encoder's
 * golden bytes; and round-trip properties between `encodeValue`,
 * `encodeCommand` and the decoder.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import {
  Decoder,
  type DecoderOptions,
  encodeCommand,
  Encoder,
  encodeValue,
  Incomplete,
  RespError,
  RespMap,
  RespProtocolError,
  RespPush,
  RespSet,
  type RespValue
} from "../src/Resp.ts"

const te = new TextEncoder()
const td = new TextDecoder("utf-8", { ignoreBOM: true })
const bytes = (s: string): Uint8Array => te.encode(s)
const text = (b: Uint8Array): string => td.decode(b)

/** A small deterministic PRNG (mulberry32), so property inputs stay a Schema-provided seed. */
const prng = (seed: number) => {
  let a = seed | 0
  return (): number => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Splits `wire` at random positions (including empty-free single bytes). */
const randomSplits = (wire: Uint8Array, random: () => number): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let i = 0
  while (i < wire.length) {
    const n = 1 + Math.floor(random() * Math.min(16, wire.length - i))
    chunks.push(wire.subarray(i, i + n))
    i += n
  }
  return chunks
}

const byteByByte = (wire: Uint8Array): Array<Uint8Array> => Array.from(wire, (_, i) => wire.subarray(i, i + 1))

/** Feeds the chunks one by one, draining replies after each, and returns all replies. */
const decodeChunks = (
  chunks: ReadonlyArray<Uint8Array>,
  binary: boolean,
  options?: DecoderOptions
): Array<RespValue> => {
  const decoder = new Decoder(options)
  const out: Array<RespValue> = []
  for (const chunk of chunks) {
    decoder.feed(chunk)
    for (let v = decoder.next(binary); v !== Incomplete; v = decoder.next(binary)) out.push(v)
  }
  assert.strictEqual(decoder.buffered, 0, "bytes left over")
  return out
}

/** Asserts that `wire` decodes to exactly `expected` however it is split. */
const assertDecodes = (wire: Uint8Array, binary: boolean, expected: ReadonlyArray<RespValue>): void => {
  assert.deepStrictEqual(decodeChunks([wire], binary), expected, "whole")
  assert.deepStrictEqual(decodeChunks(byteByByte(wire), binary), expected, "byte by byte")
  for (let seed = 1; seed <= 5; seed++) {
    assert.deepStrictEqual(decodeChunks(randomSplits(wire, prng(seed)), binary), expected, `random splits ${seed}`)
  }
}

const assertMalformed = (wire: string | Uint8Array, pattern: RegExp, options?: DecoderOptions): void => {
  const input = typeof wire === "string" ? bytes(wire) : wire
  // Whole and byte by byte: the error must not depend on how bytes arrive.
  for (const chunks of [[input], byteByByte(input)]) {
    const decoder = new Decoder(options)
    assert.throws(() => {
      for (const chunk of chunks) {
        decoder.feed(chunk)
        while (decoder.next(false) !== Incomplete) {
          // drain
        }
      }
    }, RespProtocolError, pattern)
  }
}

// -----------------------------------------------------------------------------
// golden replies
// -----------------------------------------------------------------------------

interface Case {
  readonly name: string
  readonly wire: string | Uint8Array
  /** Expected in string mode, and in binary mode when it differs. */
  readonly expected: RespValue
  readonly binary?: RespValue
}

const cases: ReadonlyArray<Case> = [
  { name: "simple string", wire: "+OK\r\n", expected: "OK" },
  { name: "empty simple string", wire: "+\r\n", expected: "" },
  { name: "simple string with UTF-8", wire: "+héllo ✓\r\n", expected: "héllo ✓" },
  { name: "simple error", wire: "-ERR unknown command 'FOO'\r\n", expected: new RespError("ERR unknown command 'FOO'") },
  { name: "integer", wire: ":1000\r\n", expected: 1000 },
  { name: "negative integer", wire: ":-42\r\n", expected: -42 },
  { name: "integer with a plus sign", wire: ":+7\r\n", expected: 7 },
  { name: "largest safe integer stays a number", wire: ":9007199254740991\r\n", expected: 9007199254740991 },
  { name: "integer beyond 2^53 is a bigint", wire: ":9223372036854775807\r\n", expected: 9223372036854775807n },
  { name: "negative integer beyond 2^53 is a bigint", wire: ":-9223372036854775808\r\n", expected: -9223372036854775808n },
  { name: "bulk string", wire: "$5\r\nhello\r\n", expected: "hello", binary: bytes("hello") },
  { name: "empty bulk string", wire: "$0\r\n\r\n", expected: "", binary: new Uint8Array(0) },
  { name: "bulk string holding CRLF", wire: "$4\r\na\r\nb\r\n", expected: "a\r\nb", binary: bytes("a\r\nb") },
  { name: "bulk string of 24 ASCII bytes", wire: "$24\r\nabcdefghijklmnopqrstuvwx\r\n", expected: "abcdefghijklmnopqrstuvwx", binary: bytes("abcdefghijklmnopqrstuvwx") },
  {
    name: "bulk string of 40 ASCII bytes",
    wire: "$40\r\nabcdefghijklmnopqrstuvwxyz0123456789ABCD\r\n",
    expected: "abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    binary: bytes("abcdefghijklmnopqrstuvwxyz0123456789ABCD")
  },
  { name: "bulk string of 20 bytes, one not ASCII", wire: "$20\r\nabcdefghijklmnopqr\u00e9\r\n", expected: "abcdefghijklmnopqr\u00e9", binary: bytes("abcdefghijklmnopqr\u00e9") },
  { name: "bulk string with multi-byte UTF-8", wire: "$8\r\nh\u00e9\u2713\u00e9\r\n", expected: "h\u00e9\u2713\u00e9", binary: bytes("h\u00e9\u2713\u00e9") },
  { name: "leading BOM is kept", wire: "$6\r\n\uFEFFabc\r\n", expected: "\uFEFFabc", binary: bytes("\uFEFFabc") },
  { name: "RESP2 null bulk", wire: "$-1\r\n", expected: null },
  { name: "RESP2 null array", wire: "*-1\r\n", expected: null },
  { name: "RESP3 null", wire: "_\r\n", expected: null },
  { name: "array", wire: "*3\r\n:1\r\n$3\r\nfoo\r\n+bar\r\n", expected: [1, "foo", "bar"], binary: [1, bytes("foo"), "bar"] },
  { name: "empty array", wire: "*0\r\n", expected: [] },
  {
    name: "nested arrays with nulls",
    wire: "*3\r\n*2\r\n:1\r\n:2\r\n*0\r\n*2\r\n$-1\r\n_\r\n",
    expected: [[1, 2], [], [null, null]]
  },
  { name: "double", wire: ",3.14\r\n", expected: 3.14 },
  { name: "double with exponent", wire: ",1.5e+10\r\n", expected: 1.5e10 },
  { name: "integral double", wire: ",10\r\n", expected: 10 },
  { name: "double inf", wire: ",inf\r\n", expected: Infinity },
  { name: "double -inf", wire: ",-inf\r\n", expected: -Infinity },
  { name: "double nan", wire: ",nan\r\n", expected: NaN },
  { name: "boolean true", wire: "#t\r\n", expected: true },
  { name: "boolean false", wire: "#f\r\n", expected: false },
  {
    name: "big number",
    wire: "(3492890328409238509324850943850943825024385\r\n",
    expected: 3492890328409238509324850943850943825024385n
  },
  { name: "small big number is still a bigint", wire: "(-12\r\n", expected: -12n },
  { name: "bulk error", wire: "!21\r\nSYNTAX invalid syntax\r\n", expected: new RespError("SYNTAX invalid syntax") },
  { name: "bulk error with a line break", wire: "!8\r\nERR a\r\nb\r\n", expected: new RespError("ERR a\r\nb") },
  { name: "verbatim string drops its format", wire: "=15\r\ntxt:Some string\r\n", expected: "Some string", binary: bytes("Some string") },
  { name: "empty verbatim string", wire: "=4\r\nmkd:\r\n", expected: "", binary: new Uint8Array(0) },
  {
    name: "map",
    wire: "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n:2\r\n",
    expected: new RespMap(["first", 1, "second", 2]),
    binary: new RespMap(["first", 1, bytes("second"), 2])
  },
  { name: "empty map", wire: "%0\r\n", expected: new RespMap([]) },
  { name: "set", wire: "~3\r\n+orange\r\n+apple\r\n#t\r\n", expected: new RespSet(["orange", "apple", true]) },
  {
    name: "push",
    wire: ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
    expected: new RespPush(["message", "news", "hi"]),
    binary: new RespPush([bytes("message"), bytes("news"), bytes("hi")])
  },
  {
    name: "attribute before a top-level reply is dropped",
    wire: "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
    expected: [2039123, 9543892]
  },
  {
    name: "attribute inside an aggregate annotates the next element",
    wire: "*3\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n:3\r\n",
    expected: [1, 2, 3]
  },
  { name: "empty attribute", wire: "|0\r\n+OK\r\n", expected: "OK" },
  {
    name: "map of aggregates (HELLO-like)",
    wire: "%2\r\n+server\r\n+redis\r\n+modules\r\n*1\r\n%1\r\n+name\r\n+search\r\n",
    expected: new RespMap(["server", "redis", "modules", [new RespMap(["name", "search"])]])
  }
]

describe("Decoder: golden replies", () => {
  for (const c of cases) {
    it(c.name, () => {
      const wire = typeof c.wire === "string" ? bytes(c.wire) : c.wire
      assertDecodes(wire, false, [c.expected])
      assertDecodes(wire, true, [c.binary ?? c.expected])
    })
  }
})

describe("Decoder: streams", () => {
  it("several replies in one chunk come out in order", () => {
    const wire = bytes("+OK\r\n:1\r\n$3\r\nfoo\r\n*2\r\n_\r\n#t\r\n-ERR x\r\n")
    assertDecodes(wire, false, ["OK", 1, "foo", [null, true], new RespError("ERR x")])
  })

  it("a reply split in two at every position decodes the same", () => {
    const wire = bytes("*4\r\n$5\r\nhello\r\n%1\r\n+k\r\n:12345\r\n=8\r\ntxt:abcd\r\n|1\r\n+a\r\n+b\r\n,-1.5\r\n+tail\r\n")
    const expected: Array<RespValue> = [["hello", new RespMap(["k", 12345]), "abcd", -1.5], "tail"]
    for (let cut = 0; cut <= wire.length; cut++) {
      assert.deepStrictEqual(decodeChunks([wire.subarray(0, cut), wire.subarray(cut)], false), expected, `cut ${cut}`)
    }
  })

  it("answers Incomplete, then resumes after more bytes", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("*2\r\n$3\r\nfo"))
    assert.strictEqual(decoder.next(false), Incomplete)
    assert.strictEqual(decoder.next(false), Incomplete)
    decoder.feed(bytes("o\r\n:7"))
    assert.strictEqual(decoder.next(false), Incomplete)
    decoder.feed(bytes("\r\n"))
    assert.deepStrictEqual(decoder.next(false), ["foo", 7])
    assert.strictEqual(decoder.next(false), Incomplete)
    assert.strictEqual(decoder.buffered, 0)
  })

  it("the binary flag of the call that started a reply applies to all of it", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("*2\r\n$1\r\na\r\n"))
    assert.strictEqual(decoder.next(true), Incomplete)
    decoder.feed(bytes("$1\r\nb\r\n$1\r\nc\r\n"))
    assert.deepStrictEqual(decoder.next(false), [bytes("a"), bytes("b")])
    // the next reply starts with this call, so its flag applies
    assert.strictEqual(decoder.next(false), "c")
  })

  it("a partial header fixes the binary flag too", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("$"))
    assert.strictEqual(decoder.next(true), Incomplete)
    decoder.feed(bytes("2\r\nab\r\n"))
    assert.deepStrictEqual(decoder.next(false), bytes("ab"))
  })

  it("binary values never alias memory the decoder later writes", () => {
    const decoder = new Decoder()
    // "$3\r\nd" is a partial tail: it is copied into the decoder's own buffer,
    // which later feeds overwrite and compact.
    decoder.feed(bytes("$3\r\nabc\r\n$3\r\nd"))
    const abc = decoder.next(true)
    assert.strictEqual(decoder.next(true), Incomplete)
    decoder.feed(bytes("ef\r\n$2\r\nz"))
    const def = decoder.next(true)
    const values: Array<RespValue> = []
    for (let i = 0; i < 2000; i++) {
      decoder.feed(bytes(`z\r\n$2\r\n${i % 10}`))
      for (let v = decoder.next(true); v !== Incomplete; v = decoder.next(true)) values.push(v)
    }
    assert.deepStrictEqual(abc, bytes("abc"))
    assert.deepStrictEqual(def, bytes("def"))
    assert.strictEqual(values.length, 2000)
    assert.deepStrictEqual(values[0], bytes("zz"))
    assert.deepStrictEqual(values[1999], bytes("8z"))
  })

  it("does not write into the chunks it is given", () => {
    const chunk1 = bytes("+OK\r\n$5\r\nhel")
    const chunk2 = bytes("lo\r\n+X\r\n")
    const copy1 = chunk1.slice()
    const copy2 = chunk2.slice()
    assert.deepStrictEqual(decodeChunks([chunk1, chunk2], false), ["OK", "hello", "X"])
    assert.deepStrictEqual(chunk1, copy1)
    assert.deepStrictEqual(chunk2, copy2)
  })

  it("an aggregate of 1,000,000 elements in 100 chunks decodes in one pass", () => {
    const n = 1_000_000
    const parts: Array<string> = [`*${n}\r\n`]
    for (let i = 0; i < n; i++) parts.push(`:${i}\r\n`)
    const wire = bytes(parts.join(""))
    const step = Math.ceil(wire.length / 100)
    const chunks: Array<Uint8Array> = []
    for (let i = 0; i < wire.length; i += step) chunks.push(wire.subarray(i, i + step))
    const [reply] = decodeChunks(chunks, false) as [ReadonlyArray<number>]
    assert.strictEqual(reply.length, n)
    assert.strictEqual(reply[0], 0)
    assert.strictEqual(reply[123_456], 123_456)
    assert.strictEqual(reply[n - 1], n - 1)
  })

  it("a 10 MB bulk string fed in 64 KiB chunks decodes correctly in both modes", () => {
    const size = 10 * 1024 * 1024
    const body = new Uint8Array(size)
    for (let i = 0; i < size; i++) body[i] = 97 + (i % 26)
    body[size - 1] = 0x41
    const header = bytes(`$${size}\r\n`)
    const wire = new Uint8Array(header.length + size + 2 + 5)
    wire.set(header)
    wire.set(body, header.length)
    wire.set(bytes("\r\n+OK\r\n"), header.length + size)
    const chunks: Array<Uint8Array> = []
    for (let i = 0; i < wire.length; i += 65536) chunks.push(wire.subarray(i, i + 65536))

    const [binary, ok] = decodeChunks(chunks, true)
    assert.deepStrictEqual(binary, body)
    assert.strictEqual(ok, "OK")

    const [string] = decodeChunks(chunks, false) as [string]
    assert.strictEqual(string.length, size)
    assert.strictEqual(string.slice(0, 3), "abc")
    assert.strictEqual(string[size - 1], "A")
  })

  it("a large verbatim string and a large bulk error are assembled in place too", () => {
    const body = "x".repeat(100_000)
    const wire = bytes(`=${body.length + 4}\r\ntxt:${body}\r\n!${body.length}\r\n${body}\r\n`)
    const chunks: Array<Uint8Array> = []
    for (let i = 0; i < wire.length; i += 1000) chunks.push(wire.subarray(i, i + 1000))
    assert.deepStrictEqual(decodeChunks(chunks, false), [body, new RespError(body)])
    const [verbatim] = decodeChunks(chunks, true)
    assert.deepStrictEqual(verbatim, bytes(body))
  })

  it("a platform UTF-8 decoder can be plugged in for strings beyond the short-ASCII loops", () => {
    const seen: Array<string> = []
    const decodeUtf8 = (b: Uint8Array, s: number, e: number) => {
      const out = td.decode(b.subarray(s, e)).toUpperCase()
      seen.push(out)
      return out
    }
    const long = "x".repeat(30)
    const wire = bytes(`+ok\r\n-\u00e9rr\r\n*2\r\n$2\r\nab\r\n=34\r\ntxt:${long}\r\n:1\r\n`)
    assert.deepStrictEqual(decodeChunks([wire], false, { decodeUtf8 }), [
      "ok",
      new RespError("\u00c9RR"),
      ["ab", long.toUpperCase()],
      1
    ])
    assert.deepStrictEqual(seen, ["\u00c9RR", long.toUpperCase()])
  })

  it("large string bodies share one scratch buffer without mixing replies; large binary bodies own theirs", () => {
    const decoder = new Decoder()
    const feedInChunks = (wire: Uint8Array) => {
      for (let i = 0; i < wire.length; i += 7000) decoder.feed(wire.subarray(i, i + 7000))
    }
    // Longer, then shorter, then a binary one between two strings: a reused
    // buffer must never leak bytes of an earlier reply into a later one.
    const first = "a".repeat(150_000)
    const second = "b".repeat(40_000) + "\u00e9".repeat(10_000)
    feedInChunks(bytes(`$${bytes(first).length}\r\n${first}\r\n$${bytes(second).length}\r\n${second}\r\n`))
    assert.strictEqual(decoder.next(false), first)
    assert.strictEqual(decoder.next(false), second)
    const raw = new Uint8Array(60_000).fill(7)
    const header = bytes(`$${raw.length}\r\n`)
    const wire = new Uint8Array(header.length + raw.length + 2)
    wire.set(header)
    wire.set(raw, header.length)
    wire.set(bytes("\r\n"), header.length + raw.length)
    feedInChunks(wire)
    const owned = decoder.next(true) as Uint8Array
    feedInChunks(bytes(`$50000\r\n${"c".repeat(50_000)}\r\n`))
    assert.strictEqual(decoder.next(false), "c".repeat(50_000))
    assert.strictEqual(owned.byteLength, 60_000)
    assert.isTrue(owned.every((b) => b === 7), "a binary body is not overwritten by the next string body")
  })

  it("buffered counts the bytes held, including a large body being assembled", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("+O"))
    assert.strictEqual(decoder.buffered, 2)
    decoder.feed(bytes("K\r\n$100000\r\n"))
    assert.strictEqual(decoder.next(false), "OK")
    assert.strictEqual(decoder.next(false), Incomplete)
    decoder.feed(new Uint8Array(50_000))
    assert.strictEqual(decoder.buffered, 50_000)
    decoder.feed(new Uint8Array(50_000))
    decoder.feed(bytes("\r\n"))
    assert.strictEqual((decoder.next(true) as Uint8Array).length, 100_000)
    assert.strictEqual(decoder.buffered, 0)
  })
})

// -----------------------------------------------------------------------------
// malformed and hostile input
// -----------------------------------------------------------------------------

describe("Decoder: malformed input", () => {
  it("unknown type byte", () => assertMalformed("?foo\r\n", /unknown type byte/))
  it("streamed strings are refused as malformed", () => assertMalformed("$?\r\n;4\r\nabcd\r\n;0\r\n", /invalid byte/))
  it("non-numeric bulk length", () => assertMalformed("$abc\r\nfoo\r\n", /invalid byte/))
  it("empty bulk length", () => assertMalformed("$\r\n", /empty length/))
  it("negative bulk length other than -1", () => assertMalformed("$-2\r\nab\r\n", /negative length/))
  it("negative map length", () => assertMalformed("%-1\r\n", /negative length/))
  it("bulk body not followed by CRLF", () => assertMalformed("$3\r\nfooXY", /not followed by CRLF/))
  it("length line with CR but no LF", () => assertMalformed("$3\rXfoo\r\n", /CRLF/))
  it("simple line with CR but no LF", () => assertMalformed("+OK\rX", /CR not followed by LF/))
  it("simple line with a bare LF", () => assertMalformed("+OK\n+OK\r\n", /LF without CR/))
  it("non-numeric integer", () => assertMalformed(":12a\r\n", /invalid byte 'a' in an integer/))
  it("empty integer", () => assertMalformed(":\r\n", /empty integer/))
  it("invalid double", () => assertMalformed(",1.2.3\r\n", /invalid double/))
  it("invalid boolean", () => assertMalformed("#x\r\n", /boolean/))
  it("null with a payload", () => assertMalformed("_x\r\n", /null with a payload/))
  it("invalid big number", () => assertMalformed("(12x\r\n", /invalid big number/))
  it("verbatim string without a format", () => assertMalformed("=5\r\nabcde\r\n", /format/))
  it("malformed element deep inside an aggregate", () => assertMalformed("*2\r\n*1\r\n:1\r\n*1\r\n@\r\n", /unknown type byte '@'/))

  it("bulk over the limit is refused at its header", () =>
    assertMalformed("$11\r\n", /exceeds the limit of 10/, { maxBulkLength: 10 }))

  it("a simple line longer than the limit is refused before its end arrives", () =>
    assertMalformed(`+${"a".repeat(20)}`, /longer than the limit/, { maxBulkLength: 10 }))

  it("array over the limit", () => assertMalformed("*11\r\n", /exceeds the limit of 10/, { maxArrayLength: 10 }))

  it("a map counts two elements per pair against the limit", () => {
    assertMalformed("%6\r\n", /aggregate of 12 elements exceeds the limit of 10/, { maxArrayLength: 10 })
    assert.deepStrictEqual(decodeChunks([bytes("%5\r\n" + ":1\r\n".repeat(10))], false, { maxArrayLength: 10 }), [
      new RespMap(Array(10).fill(1))
    ])
  })

  it("depth up to the limit is accepted, one more is refused", () => {
    const nested = (depth: number) => bytes("*1\r\n".repeat(depth) + ":1\r\n")
    let expected: RespValue = 1
    for (let i = 0; i < 3; i++) expected = [expected]
    assert.deepStrictEqual(decodeChunks([nested(3)], false, { maxDepth: 3 }), [expected])
    assertMalformed(nested(4), /nested deeper than the limit of 3/, { maxDepth: 3 })
  })

  it("a declared 1 GB bulk is refused at its header, before any body is buffered", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("$1073741824\r\n"))
    decoder.feed(new Uint8Array(1024))
    assert.throws(() => decoder.next(false), RespProtocolError, /bulk length 1073741824 exceeds/)
    assert.strictEqual(decoder.buffered, 0)
  })

  it("a nesting bomb of 1,000,000 levels throws on depth without overflowing the stack", () => {
    const bomb = bytes("*1\r\n".repeat(1_000_000))
    const whole = new Decoder()
    whole.feed(bomb)
    assert.throws(() => whole.next(false), RespProtocolError, /nested deeper than the limit of 128/)
    // Fed in 4 KiB chunks it fails within the first chunk, holding nothing more.
    const chunked = new Decoder()
    let fed = 0
    assert.throws(() => {
      for (let i = 0; i < bomb.length; i += 4096) {
        chunked.feed(bomb.subarray(i, i + 4096))
        fed += 4096
        assert.isAtMost(chunked.buffered, 4096)
        chunked.next(false)
      }
    }, RespProtocolError)
    assert.strictEqual(fed, 4096)
  })

  it("a nesting bomb of attributes hits the same limit", () =>
    assertMalformed("|1\r\n".repeat(1000), /nested deeper/))

  it("after a throw the decoder refuses use until reset", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("?\r\n"))
    assert.throws(() => decoder.next(false), RespProtocolError)
    decoder.feed(bytes("+OK\r\n"))
    assert.throws(() => decoder.next(false), RespProtocolError, /reset/)
    decoder.reset()
    assert.strictEqual(decoder.buffered, 0)
    decoder.feed(bytes("+OK\r\n"))
    assert.strictEqual(decoder.next(false), "OK")
  })

  it("reset drops a partial reply", () => {
    const decoder = new Decoder()
    decoder.feed(bytes("*2\r\n:1\r\n"))
    assert.strictEqual(decoder.next(false), Incomplete)
    decoder.reset()
    decoder.feed(bytes(":2\r\n"))
    assert.strictEqual(decoder.next(false), 2)
  })
})

// -----------------------------------------------------------------------------
// encoder
// -----------------------------------------------------------------------------

const wireOf = (...parts: Array<string | Uint8Array>): Uint8Array => {
  const encoded = parts.map((p) => typeof p === "string" ? bytes(p) : p)
  const out = new Uint8Array(encoded.reduce((n, p) => n + p.length, 0))
  let i = 0
  for (const p of encoded) {
    out.set(p, i)
    i += p.length
  }
  return out
}

describe("Encoder", () => {
  it("encodes a command as an array of bulk strings", () => {
    assert.deepStrictEqual(encodeCommand(["GET", "key:1"]), bytes("*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"))
  })

  it("encodes empty strings and empty bytes", () => {
    assert.deepStrictEqual(encodeCommand(["SET", "", new Uint8Array(0)]), bytes("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n"))
    assert.deepStrictEqual(encodeCommand([]), bytes("*0\r\n"))
  })

  it("encodes short and long unicode strings by UTF-8 byte length", () => {
    // 4 UTF-16 units, 8 bytes: the header is narrower than reserved and the body slides left
    assert.deepStrictEqual(encodeCommand(["😀😀"]), bytes("*1\r\n$8\r\n😀😀\r\n"))
    // non-ASCII late in a short string: the ASCII attempt is abandoned
    const late = "a".repeat(40) + "é"
    assert.deepStrictEqual(encodeCommand([late]), bytes(`*1\r\n$42\r\n${late}\r\n`))
    // beyond the short-string path
    const long = "héllo wörld ✓ ".repeat(20)
    assert.deepStrictEqual(encodeCommand([long]), bytes(`*1\r\n$${bytes(long).length}\r\n${long}\r\n`))
    const longAscii = "x".repeat(1000)
    assert.deepStrictEqual(encodeCommand([longAscii]), bytes(`*1\r\n$1000\r\n${longAscii}\r\n`))
  })

  it("encodes a lone surrogate as U+FFFD, like TextEncoder", () => {
    assert.deepStrictEqual(encodeCommand(["a\uD800"]), bytes("*1\r\n$4\r\na\uFFFD\r\n"))
  })

  it("copies binary arguments byte for byte (every byte 0..255)", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    assert.deepStrictEqual(encodeCommand(["SET", "k", all]), wireOf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$256\r\n", all, "\r\n"))
  })

  it("encodes numbers in decimal", () => {
    const args = [0, -1, 42, -1234567, 9007199254740991, -9007199254740991, 2 ** 60, 1.5, -0.25, 1e21, Infinity, -Infinity, -0]
    const texts = ["0", "-1", "42", "-1234567", "9007199254740991", "-9007199254740991", "1152921504606846976", "1.5", "-0.25", "1000000000000000000000", "+inf", "-inf", "0"]
    assert.deepStrictEqual(
      encodeCommand(args),
      bytes(`*${args.length}\r\n` + texts.map((t) => `$${t.length}\r\n${t}\r\n`).join(""))
    )
  })

  it("refuses NaN with a TypeError and leaves the buffer as it was", () => {
    const encoder = new Encoder()
    encoder.write(["PING"])
    const before = encoder.length
    assert.throws(() => encoder.write(["ZADD", "z", NaN, "m"]), TypeError, /NaN/)
    assert.strictEqual(encoder.length, before)
    encoder.write(["PING"])
    assert.deepStrictEqual(encoder.take(), bytes("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"))
  })

  it("joins several commands and take() returns an independent copy", () => {
    const encoder = new Encoder(64)
    encoder.write(["SET", "a", "1"])
    encoder.write(["GET", "a"])
    assert.strictEqual(encoder.length, 47)
    const first = encoder.take()
    assert.strictEqual(encoder.length, 0)
    assert.deepStrictEqual(first, bytes("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n"))
    const copy = first.slice()
    encoder.write(["DEL", "zzzzzzzzzzzzzzzzzzzz"])
    const second = encoder.take()
    assert.deepStrictEqual(first, copy)
    assert.deepStrictEqual(second, bytes("*2\r\n$3\r\nDEL\r\n$20\r\nzzzzzzzzzzzzzzzzzzzz\r\n"))
    assert.notStrictEqual(first.buffer, second.buffer)
  })

  it("grows past its initial capacity", () => {
    const encoder = new Encoder(64)
    const big = new Uint8Array(3 * 1024 * 1024).fill(7)
    encoder.write(["SET", "k", big])
    encoder.write(["GET", "k"])
    const out = encoder.take()
    assert.strictEqual(out.length, 4 + 9 + 7 + 10 + big.length + 2 + 20)
    const [set, get] = decodeChunks([out], true)
    assert.deepStrictEqual((set as ReadonlyArray<RespValue>)[2], big)
    assert.deepStrictEqual(get, [bytes("GET"), bytes("k")])
  })
})

// -----------------------------------------------------------------------------
// large arguments: scatter/gather
// -----------------------------------------------------------------------------

/** The wire form of commands, built without the encoder (TextEncoder for strings). */
const commandsWire = (commands: ReadonlyArray<ReadonlyArray<string | Uint8Array>>): Uint8Array =>
  wireOf(
    ...commands.flatMap((args) => [
      `*${args.length}\r\n`,
      ...args.flatMap((arg) => {
        const body = typeof arg === "string" ? bytes(arg) : arg
        return [`$${body.length}\r\n`, body, "\r\n"]
      })
    ])
  )

/** A random string over ASCII, 2-, 3- and 4-byte characters and lone surrogates. */
const unicodeString = (random: () => number, length: number): string => {
  const alphabet = ["a", "Z", "\r", "é", "✓", "😀", "\uFEFF", "\uD800", "\uDC00", "\u0000"]
  let out = ""
  while (out.length < length) out += alphabet[Math.floor(random() * alphabet.length)]
  return out
}

describe("Encoder: large arguments", () => {
  const size = 100 * 1024
  const ascii = "x".repeat(size)
  const binary = Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >>> 11)) & 0xff)
  // 2-, 3- and 4-byte characters: more bytes than UTF-16 units, so the body
  // does not fit the buffer sized for ASCII and continues in a second one.
  const multiByte = "é✓😀a".repeat(size / 5)

  it("writes a large string, Uint8Array or multi-byte string byte for byte, in chunks of their own", () => {
    for (const [arg, bodyChunks] of [[ascii, 1], [binary, 1], [multiByte, 2]] as const) {
      const encoder = new Encoder()
      encoder.write(["SET", "k", arg])
      assert.strictEqual(encoder.length, commandsWire([["SET", "k", arg]]).length)
      const chunks = encoder.takeChunks()
      assert.strictEqual(encoder.length, 0)
      assert.deepStrictEqual(wireOf(...chunks), commandsWire([["SET", "k", arg]]))
      // the headers before, the body, the CRLF after
      assert.strictEqual(chunks.length, 2 + bodyChunks)
    }
  })

  it("passes a large Uint8Array through as it is, and copies a small one", () => {
    const encoder = new Encoder()
    const small = binary.subarray(0, 100)
    encoder.write(["SET", "a", binary])
    encoder.write(["SET", "b", small])
    const chunks = encoder.takeChunks()
    assert.isTrue(chunks.includes(binary), "the large array is a chunk")
    assert.isFalse(chunks.some((c) => c.buffer === small.buffer && c !== binary), "the small one is copied")
    assert.deepStrictEqual(wireOf(...chunks), commandsWire([["SET", "a", binary], ["SET", "b", small]]))
  })

  it("splits multi-byte UTF-8 between buffers only on character boundaries", () => {
    // With 4-unit arguments counted large, the first buffer holds 4 bytes:
    // what does not fit (a 4-byte emoji after "ab", a lone surrogate's
    // 3-byte U+FFFD after "abc") starts the second one.
    const strings = ["ab😀", "😀😀", "abc\uD800", "\uD800abc", "éééé", "a\uDC00\uD800b", "😀\uD83D"]
    for (const s of strings) {
      const encoder = new Encoder(64, { largeArgument: 4 })
      encoder.write(["SET", s])
      assert.deepStrictEqual(wireOf(...encoder.takeChunks()), commandsWire([["SET", s]]), JSON.stringify(s))
    }
  })

  it.prop(
    "mixed small and large arguments over several commands come out in order, byte for byte",
    [Schema.Int],
    ([seed]) => {
      const random = prng(seed)
      const pick = (n: number) => Math.floor(random() * n)
      const largeArgument = 1 + pick(24)
      const commands = Array.from({ length: 1 + pick(6) }, () =>
        Array.from({ length: 1 + pick(5) }, (): string | Uint8Array =>
          random() < 0.5
            ? unicodeString(random, pick(40))
            : Uint8Array.from({ length: pick(40) }, () => pick(256))
        ))
      const expected = commandsWire(commands)
      const chunked = new Encoder(64, { largeArgument })
      const joined = new Encoder(64, { largeArgument })
      for (const args of commands) {
        chunked.write(args)
        joined.write(args)
      }
      assert.deepStrictEqual(wireOf(...chunked.takeChunks()), expected)
      assert.deepStrictEqual(joined.take(), expected)
    }
  )

  it("keeps commands in order in one batch, and each decodes back to its arguments", () => {
    const commands = [["SET", "a", ascii], ["GET", "a"], ["MSET", "b", binary, "c", "small", "d", multiByte], ["PING"]]
    const encoder = new Encoder()
    for (const args of commands) encoder.write(args)
    const chunks = encoder.takeChunks()
    const wire = wireOf(...chunks)
    assert.deepStrictEqual(wire, commandsWire(commands))
    assert.deepStrictEqual(
      decodeChunks(chunks, true),
      commands.map((args) => args.map((a) => (typeof a === "string" ? bytes(a) : a)))
    )
    // take() joins the same bytes into one buffer
    for (const args of commands) encoder.write(args)
    assert.deepStrictEqual(encoder.take(), wire)
  })

  it("cuts a batch of many small commands into chunks instead of growing the scratch buffer", () => {
    const commands = Array.from({ length: 5000 }, (_, i) => ["SET", `key:${i}`, "v".repeat(64)])
    const encoder = new Encoder()
    for (const args of commands) encoder.write(args)
    const chunks = encoder.takeChunks()
    assert.isAtLeast(chunks.length, 3)
    for (const c of chunks) assert.isAtMost(c.length, 128 * 1024 + 100)
    assert.deepStrictEqual(wireOf(...chunks), commandsWire(commands))
  })

  it("refuses NaN after a large argument and leaves the batch as it was", () => {
    const encoder = new Encoder()
    encoder.write(["SET", "k", ascii])
    const before = encoder.length
    assert.throws(() => encoder.write(["ZADD", "z", multiByte, NaN, binary]), TypeError, /NaN/)
    assert.strictEqual(encoder.length, before)
    encoder.write(["PING"])
    assert.deepStrictEqual(wireOf(...encoder.takeChunks()), commandsWire([["SET", "k", ascii], ["PING"]]))
  })

  it("hands out the buffers a large string took, and reuses them only once they are recycled", () => {
    const encoder = new Encoder()
    const bodyOf = (chunks: ReadonlyArray<Uint8Array>) => chunks.find((c) => c.length === size)!
    const leases = encoder.write(["SET", "k", ascii])!
    assert.strictEqual(leases.length, 1)
    assert.strictEqual(bodyOf(encoder.takeChunks()).buffer, leases[0].buffer)
    // nothing is leased for a borrowed Uint8Array or small arguments
    assert.isUndefined(encoder.write(["SET", "k", binary]))
    assert.isUndefined(encoder.write(["GET", "k"]))
    encoder.takeChunks()
    // not recycled yet: the next string gets a buffer of its own
    const other = encoder.write(["SET", "k", ascii])!
    assert.notStrictEqual(other[0].buffer, leases[0].buffer)
    encoder.takeChunks()
    encoder.recycle(leases)
    const again = encoder.write(["SET", "k", "y".repeat(size)])!
    assert.strictEqual(again[0], leases[0], "reused")
    const chunks = encoder.takeChunks()
    assert.deepStrictEqual(wireOf(...chunks), commandsWire([["SET", "k", "y".repeat(size)]]))
    // dropped on request
    encoder.recycle(again)
    encoder.releaseBuffers()
    const fresh = encoder.write(["SET", "k", ascii])!
    assert.notStrictEqual(fresh[0], leases[0])
    encoder.takeChunks()
    // kept over 63 takes without a large string, dropped at the 64th
    encoder.recycle(fresh)
    for (let i = 0; i < 63; i++) {
      encoder.write(["PING"])
      encoder.takeChunks()
    }
    const kept = encoder.write(["SET", "k", ascii])!
    assert.strictEqual(kept[0], fresh[0])
    encoder.takeChunks()
    encoder.recycle(kept)
    for (let i = 0; i < 64; i++) {
      encoder.write(["PING"])
      encoder.takeChunks()
    }
    assert.notStrictEqual(encoder.write(["SET", "k", ascii])![0], kept[0])
  })
})

// -----------------------------------------------------------------------------
// encodeValue
// -----------------------------------------------------------------------------

describe("encodeValue", () => {
  const resp3: ReadonlyArray<[RespValue, string]> = [
    ["hi", "$2\r\nhi\r\n"],
    [bytes("hi"), "$2\r\nhi\r\n"],
    [7, ":7\r\n"],
    [-7, ":-7\r\n"],
    [1.5, ",1.5\r\n"],
    [NaN, ",nan\r\n"],
    [-Infinity, ",-inf\r\n"],
    [12n, "(12\r\n"],
    [true, "#t\r\n"],
    [null, "_\r\n"],
    [new RespError("ERR x"), "-ERR x\r\n"],
    [new RespError("ERR a\nb"), "!7\r\nERR a\nb\r\n"],
    [["a", [1]], "*2\r\n$1\r\na\r\n*1\r\n:1\r\n"],
    [new RespMap(["k", "v"]), "%1\r\n$1\r\nk\r\n$1\r\nv\r\n"],
    [new RespSet([1]), "~1\r\n:1\r\n"],
    [new RespPush(["message"]), ">1\r\n$7\r\nmessage\r\n"]
  ]
  const resp2: ReadonlyArray<[RespValue, string]> = [
    [null, "$-1\r\n"],
    [false, ":0\r\n"],
    [1.5, "$3\r\n1.5\r\n"],
    [12n, ":12\r\n"],
    [2n ** 64n, "$20\r\n18446744073709551616\r\n"],
    [new RespError("ERR a\r\nb"), "-ERR a  b\r\n"],
    [new RespMap(["k", 1]), "*2\r\n$1\r\nk\r\n:1\r\n"],
    [new RespSet([1]), "*1\r\n:1\r\n"],
    [new RespPush(["x"]), "*1\r\n$1\r\nx\r\n"]
  ]

  it("RESP3 forms", () => {
    for (const [value, wire] of resp3) assert.strictEqual(text(encodeValue(value)), wire, String(wire))
  })

  it("RESP2 forms", () => {
    for (const [value, wire] of resp2) assert.strictEqual(text(encodeValue(value, 2)), wire, String(wire))
  })

  it("refuses a map with an odd number of flat elements", () => {
    assert.throws(() => encodeValue(new RespMap(["k"])), TypeError)
  })
})

// -----------------------------------------------------------------------------
// properties
// -----------------------------------------------------------------------------

const STRING_ALPHABET = ["a", "Z", "0", " ", "\r", "\n", "é", "✓", "😀", "\uFEFF", "\u0000", ":"]

/** A random RESP value: every type, nested up to `depth`. */
const arbitraryValue = (random: () => number, depth: number): RespValue => {
  const pick = (n: number) => Math.floor(random() * n)
  const str = () => Array.from({ length: pick(40) }, () => STRING_ALPHABET[pick(STRING_ALPHABET.length)]).join("")
  const items = () => Array.from({ length: pick(5) }, () => arbitraryValue(random, depth - 1))
  switch (pick(depth > 0 ? 16 : 11)) {
    case 0:
      return str()
    case 1:
      return Uint8Array.from({ length: pick(70) }, () => pick(256))
    case 2:
      return pick(2) ? pick(1000) - 500 : Math.floor((random() - 0.5) * 2 ** 53)
    case 3:
      return [NaN, Infinity, -Infinity, 0.5, -1e-7, 1e300, 2 ** 60, (random() - 0.5) * 1e6][pick(8)]
    case 4:
      return BigInt(Math.floor(random() * 1e15)) * 10n ** BigInt(pick(30)) * (pick(2) ? 1n : -1n)
    case 5:
      return pick(2) === 1
    case 6:
      return null
    case 7:
      return new RespError("ERR " + str())
    case 8:
      return str().replace(/[^a-z]/gi, "") // often short ASCII
    case 9:
      return "x".repeat(pick(40_000)) // sometimes beyond the large-bulk threshold
    case 10:
      return ""
    case 11:
    case 12:
      return items()
    case 13: {
      const flat = items()
      return new RespMap(flat.length % 2 === 0 ? flat : flat.slice(1))
    }
    case 14:
      return new RespSet(items())
    default:
      return new RespPush(items())
  }
}

/** What RESP3 gives back for `value` in the decoder's `binary` mode. */
const viaResp3 = (value: RespValue, binary: boolean): RespValue => {
  if (typeof value === "string") return binary ? bytes(value) : value
  if (value instanceof Uint8Array) return binary ? value : text(value)
  if (typeof value === "number") return value === 0 ? 0 : value // -0 goes out as :0
  if (Array.isArray(value)) return value.map((v) => viaResp3(v, binary))
  if (value instanceof RespMap) return new RespMap(value.flat.map((v) => viaResp3(v, binary)))
  if (value instanceof RespSet) return new RespSet(value.items.map((v) => viaResp3(v, binary)))
  if (value instanceof RespPush) return new RespPush(value.items.map((v) => viaResp3(v, binary)))
  return value as RespValue
}

/** What RESP2 gives back: fewer types, so the server's fallbacks come back as themselves. */
const viaResp2 = (value: RespValue): RespValue => {
  if (value instanceof Uint8Array) return text(value)
  if (typeof value === "boolean") return value ? 1 : 0
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return value === 0 ? 0 : value
    return Number.isNaN(value) ? "nan" : value === Infinity ? "inf" : value === -Infinity ? "-inf" : String(value)
  }
  if (typeof value === "bigint") {
    if (value < -(2n ** 63n) || value >= 2n ** 63n) return value.toString()
    return value >= -(2n ** 53n - 1n) && value <= 2n ** 53n - 1n ? Number(value) : value
  }
  if (value instanceof RespError) return new RespError(value.message.replace(/[\r\n]/g, " "))
  if (Array.isArray(value)) return value.map(viaResp2)
  if (value instanceof RespMap) return value.flat.map(viaResp2)
  if (value instanceof RespSet || value instanceof RespPush) return value.items.map(viaResp2)
  return value as RespValue
}

describe("round trips", () => {
  it.prop("RESP3: encodeValue then decode, in random splits, gives the value back", [Schema.Int], ([seed]) => {
    const random = prng(seed)
    const values = Array.from({ length: 3 }, () => arbitraryValue(random, 4))
    const wire = wireOf(...values.map((v) => encodeValue(v)))
    for (const binary of [false, true]) {
      const expected = values.map((v) => viaResp3(v, binary))
      assert.deepStrictEqual(decodeChunks([wire], binary), expected)
      assert.deepStrictEqual(decodeChunks(randomSplits(wire, random), binary), expected)
    }
  })

  it.prop("RESP2: encodeValue then decode gives the RESP2 view of the value", [Schema.Int], ([seed]) => {
    const random = prng(seed)
    const value = arbitraryValue(random, 4)
    const wire = encodeValue(value, 2)
    assert.deepStrictEqual(decodeChunks(randomSplits(wire, random), false), [viaResp2(value)])
  })

  it.prop("a command decodes back to its arguments' bytes", [Schema.Array(Schema.String), Schema.Int], ([strings, n]) => {
    const args = [...strings, n, bytes(strings.join(""))]
    const [decoded] = decodeChunks([encodeCommand(args)], true)
    assert.deepStrictEqual(decoded, [...strings.map((s) => bytes(s)), bytes(String(n)), bytes(strings.join(""))])
  })

  it.prop("an integer reply round-trips as number or bigint", [Schema.Int], ([seed]) => {
    const random = prng(seed)
    const big = BigInt(Math.floor(random() * 2 ** 53)) * BigInt(Math.floor(random() * 2 ** 20)) - 2n ** 60n
    const [value] = decodeChunks([bytes(`:${big}\r\n`)], false)
    if (big >= -(2n ** 53n - 1n) && big <= 2n ** 53n - 1n) assert.strictEqual(value, Number(big))
    else assert.strictEqual(value, big)
  })
})

describe("Decoder ownership of binary values", () => {
  it("a bulk string decoded from a Node Buffer chunk is a copy, not a view of the chunk", () => {
    const chunk = Buffer.from("$3\r\nabc\r\n$3\r\ndef\r\n")
    const decoder = new Decoder()
    decoder.feed(chunk)
    const a = decoder.next(true) as Uint8Array
    const b = decoder.next(true) as Uint8Array
    assert.notStrictEqual(a.buffer, chunk.buffer)
    assert.notStrictEqual(a.buffer, b.buffer)
    assert.strictEqual(a.byteLength, a.buffer.byteLength)
    chunk.fill(0)
    assert.deepStrictEqual([...a], [97, 98, 99])
  })
})

describe("Decoder over a reused read buffer (release, readTarget)", () => {
  /**
   * Feeds `wire` the way a transport reading into one reused buffer does:
   * at most `size` bytes per read, into the same memory each time, or
   * straight into the decoder's `readTarget` when it names one; `release`
   * after the replies of each read. Returns the replies and how many bytes
   * went straight into a target.
   */
  const readThrough = (wire: Uint8Array, size: number, binary: (i: number) => boolean) => {
    const decoder = new Decoder()
    const scratch = new Uint8Array(size)
    const replies: Array<RespValue> = []
    const targets: Array<Uint8Array> = []
    let direct = 0
    let at = 0
    while (at < wire.length) {
      const target = decoder.readTarget()
      if (target !== undefined) {
        const n = Math.min(target.length, wire.length - at, size * 3)
        target.set(wire.subarray(at, at + n))
        decoder.targetFilled(n)
        targets.push(target)
        direct += n
        at += n
        continue
      }
      const n = Math.min(size, wire.length - at)
      scratch.set(wire.subarray(at, at + n))
      // What a read before this one left there must not matter.
      scratch.fill(0xee, n)
      decoder.feed(scratch.subarray(0, n))
      for (;;) {
        const value = decoder.next(binary(replies.length))
        if (value === Incomplete) break
        replies.push(value)
      }
      decoder.release()
      scratch.fill(0xdd)
      at += n
    }
    return { replies, direct, targets }
  }

  const body = (size: number, seed: number) => {
    const out = new Uint8Array(size)
    for (let i = 0; i < size; i++) out[i] = (i * 131 + seed) & 0x7f
    return out
  }

  it("replies split across reads of one reused buffer come out intact (partial tails are copied by release)", () => {
    const values = ["PONG", "x".repeat(300), "", "héllo wörld", "y".repeat(5000)]
    const wire = bytes(values.map((v) => `$${te.encode(v).length}\r\n${v}\r\n`).join("") + "*2\r\n:1\r\n+OK\r\n")
    for (const size of [1, 3, 7, 64, 1000]) {
      const { replies } = readThrough(wire, size, () => false)
      assert.deepStrictEqual(replies, [...values, [1, "OK"]], `reads of ${size} bytes`)
    }
  })

  it("a large body is read straight into its final buffer: bytes returned without a copy, strings decoded from it", () => {
    const big = body(300_000, 5)
    const second = body(70_000, 9)
    const wire = new Uint8Array([
      ...bytes(`$${big.length}\r\n`),
      ...big,
      ...bytes(`\r\n$${second.length}\r\n`),
      ...second,
      ...bytes("\r\n+after\r\n")
    ])
    const asBytes = readThrough(wire, 16 * 1024, (i) => i < 2)
    assert.strictEqual(asBytes.replies.length, 3)
    assert.isTrue(Buffer.from(asBytes.replies[0] as Uint8Array).equals(Buffer.from(big)))
    assert.isTrue(Buffer.from(asBytes.replies[1] as Uint8Array).equals(Buffer.from(second)))
    assert.strictEqual(asBytes.replies[2], "after")
    // The body's bytes went to a target, except what came with its header
    // and a remainder under the large-body threshold (32 KiB), and the
    // value handed out is that very buffer.
    assert.isAbove(asBytes.direct, big.length + second.length - 2 * 16 * 1024 - 32 * 1024)
    assert.strictEqual((asBytes.replies[0] as Uint8Array).buffer, asBytes.targets[0].buffer)
    const asText = readThrough(wire, 16 * 1024, () => false)
    assert.strictEqual(asText.replies[0], new TextDecoder().decode(big))
    assert.strictEqual(asText.replies[1], new TextDecoder().decode(second))
    assert.isAbove(asText.direct, big.length + second.length - 2 * 16 * 1024 - 32 * 1024)
  })

  it("no target while other bytes wait, for a small remainder, or after a failure", () => {
    const decoder = new Decoder()
    assert.isUndefined(decoder.readTarget())
    decoder.feed(bytes(`$${100_000}\r\n`))
    assert.strictEqual(decoder.next(true), Incomplete)
    const first = decoder.readTarget()
    assert.strictEqual(first?.length, 100_000)
    first!.fill(1, 0, 90_000)
    decoder.targetFilled(90_000)
    // 10,000 bytes left: below the large-body threshold, they go through feed.
    assert.isUndefined(decoder.readTarget())
    decoder.feed(new Uint8Array(10_000).fill(2))
    decoder.feed(bytes("\r\n:7\r\n"))
    const value = decoder.next(true) as Uint8Array
    assert.strictEqual(value.length, 100_000)
    assert.strictEqual(value[89_999], 1)
    assert.strictEqual(value[90_000], 2)
    assert.strictEqual(decoder.next(false), 7)
    decoder.feed(bytes(`$${100_000}\r\n`))
    decoder.feed(bytes("x"))
    assert.strictEqual(decoder.next(true), Incomplete)
    assert.isDefined(decoder.readTarget())
    decoder.reset()
    assert.isUndefined(decoder.readTarget())
  })
})
