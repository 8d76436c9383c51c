import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Commands from "../../src/Commands.ts"
import { expectCommand, expectInvalid, RO, W, WI } from "./helpers.ts"

describe("bitmaps", () => {
  it("setbit/getbit: offsets checked", () => {
    expectCommand(Commands.setbit("b", 7, 1), ["SETBIT", "b", 7, 1], ["b"], WI)
    expectCommand(Commands.getbit("b", 7), ["GETBIT", "b", 7], ["b"], RO)
    expectInvalid(Commands.setbit("b", -1, 1))
  })

  it("bitcount/bitpos ranges", () => {
    expectCommand(Commands.bitcount("b", { start: 0, end: 7, unit: "BIT" }), ["BITCOUNT", "b", 0, 7, "BIT"], ["b"], RO)
    expectInvalid(Commands.bitcount("b", { start: 0 }))
    expectCommand(Commands.bitpos("b", 0, { start: 2 }), ["BITPOS", "b", 0, 2], ["b"], RO)
  })

  it("bitop: destination routed, NOT takes one key", () => {
    expectCommand(Commands.bitop("AND", "d", ["a", "b"]), ["BITOP", "AND", "d", "a", "b"], ["d", "a", "b"], WI)
    expectInvalid(Commands.bitop("NOT", "d", ["a", "b"]))
  })

  it("bitfield: idempotent without INCRBY; nil from OVERFLOW FAIL", () => {
    const cmd = Commands.bitfield("b", [
      { op: "SET", encoding: "u8", offset: 0, value: 255 },
      { op: "GET", encoding: "i4", offset: "#1" }
    ])
    expectCommand(cmd, ["BITFIELD", "b", "SET", "u8", 0, 255, "GET", "i4", "#1"], ["b"], WI)
    const inc = Commands.bitfield("b", [
      { op: "OVERFLOW", behavior: "FAIL" },
      { op: "INCRBY", encoding: "u2", offset: 0, increment: 1 }
    ])
    expectCommand(inc, ["BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 1], ["b"], W)
    assert.deepStrictEqual(inc.decode([null]), [Option.none()])
    expectInvalid(Commands.bitfield("b", [{ op: "GET", encoding: "x8" as "i8", offset: 0 }]))
    expectCommand(Commands.bitfieldRo("b", [{ encoding: "u8", offset: 0 }]), ["BITFIELD_RO", "b", "GET", "u8", 0], ["b"], RO)
  })
})

describe("hyperloglog", () => {
  it("pfadd/pfcount/pfmerge", () => {
    expectCommand(Commands.pfadd("h", ["a", "b"]), ["PFADD", "h", "a", "b"], ["h"], WI)
    expectCommand(Commands.pfadd("h"), ["PFADD", "h"], ["h"], WI)
    expectCommand(Commands.pfcount(["a", "b"]), ["PFCOUNT", "a", "b"], ["a", "b"], RO)
    expectCommand(Commands.pfmerge("d", ["a", "b"]), ["PFMERGE", "d", "a", "b"], ["d", "a", "b"], WI)
    expectInvalid(Commands.pfcount([]))
  })
})

describe("geo", () => {
  it("geoadd: finite coordinates, options", () => {
    expectCommand(
      Commands.geoadd("g", { longitude: 13.36, latitude: 38.11, member: "Palermo" }, { ch: true }),
      ["GEOADD", "g", "CH", 13.36, 38.11, "Palermo"],
      ["g"],
      WI
    )
    expectInvalid(Commands.geoadd("g", { longitude: NaN, latitude: 0, member: "x" }))
    expectInvalid(Commands.geoadd("g", []))
  })

  it("geopos: bulk strings (RESP2), doubles (RESP3) and nil", () => {
    const cmd = Commands.geopos("g", ["a", "b"])
    expectCommand(cmd, ["GEOPOS", "g", "a", "b"], ["g"], RO)
    assert.deepStrictEqual(cmd.decode([["13.5", "38.1"], null]), [
      Option.some({ longitude: 13.5, latitude: 38.1 }),
      Option.none()
    ])
    assert.deepStrictEqual(cmd.decode([[13.5, 38.1]]), [Option.some({ longitude: 13.5, latitude: 38.1 })])
  })

  it("geodist: optional double", () => {
    const cmd = Commands.geodist("g", "a", "b", "km")
    expectCommand(cmd, ["GEODIST", "g", "a", "b", "km"], ["g"], RO)
    assert.deepStrictEqual(cmd.decode("166.27"), Option.some(166.27))
    assert.deepStrictEqual(cmd.decode(null), Option.none())
  })

  it("geosearch: plain members", () => {
    expectCommand(
      Commands.geosearch("g", { member: "a" }, { radius: 100, unit: "km" }, { order: "ASC", count: 2, any: true }),
      ["GEOSEARCH", "g", "FROMMEMBER", "a", "BYRADIUS", 100, "km", "ASC", "COUNT", 2, "ANY"],
      ["g"],
      RO
    )
    expectInvalid(Commands.geosearch("g", { member: "a" }, { radius: 1, unit: "m" }, { any: true }))
  })

  it("geosearchWith: decodes dist, hash and coordinates in server order", () => {
    const cmd = Commands.geosearchWith("g", { longitude: 15, latitude: 37 }, { width: 400, height: 400, unit: "km" }, {
      withDist: true,
      withHash: true,
      withCoord: true
    })
    expectCommand(
      cmd,
      ["GEOSEARCH", "g", "FROMLONLAT", 15, 37, "BYBOX", 400, 400, "km", "WITHCOORD", "WITHDIST", "WITHHASH"],
      ["g"],
      RO
    )
    assert.deepStrictEqual(cmd.decode([["Palermo", "190.4424", 3479099956230698, ["13.36", "38.11"]]]), [{
      member: "Palermo",
      distance: 190.4424,
      hash: 3479099956230698,
      coordinates: { longitude: 13.36, latitude: 38.11 }
    }])
    const distOnly = Commands.geosearchWith("g", { member: "a" }, { radius: 1, unit: "km" }, { withDist: true })
    assert.deepStrictEqual(distOnly.decode([["a", 0]]), [{ member: "a", distance: 0 }])
  })

  it("geosearchstore routes destination and source", () => {
    expectCommand(
      Commands.geosearchstore("d", "g", { member: "a" }, { radius: 5, unit: "mi" }, { storeDist: true }),
      ["GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "a", "BYRADIUS", 5, "mi", "STOREDIST"],
      ["d", "g"],
      WI
    )
  })
})
