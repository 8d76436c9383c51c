/**
 * `redis-effect cluster import` and `redis-effect cluster backup` run as a
 * subprocess against real servers, with `redis-cli --cluster check` as the
 * independent oracle: 10 000 keys of a standalone server are imported with
 * `--cluster-copy` (the source keeps them), refused per key without
 * `--cluster-replace` (BUSYKEY, exit 1), then imported with
 * `--cluster-replace` (new values win, the source is emptied); the backup
 * writes one RDB per primary and nodes.json, and each RDB loads into a fresh
 * server with the keys and values the cluster holds. A cluster with a
 * password imports from a source with another one (MIGRATE ... AUTH).
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisServer from "@redis-effect/testing/RedisServer"
import * as ChildProcess from "node:child_process"
import * as FS from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { addressOf, expectCliOk, makeServers, type ServersShape } from "./oracle.ts"

interface Fixture extends ServersShape {
  readonly source: RedisServer.RedisServerHandle
  readonly scope: Scope.Scope
}

class Servers extends Context.Service<Servers, Fixture>()("test/cluster-admin/ImportBackup") {}

const fixture = Effect.gen(function*() {
  const servers = yield* makeServers(3)
  const scope = yield* Effect.scope
  const source = yield* RedisServer.make({})
  return { ...servers, source, scope } satisfies Fixture
})

const bin = Path.resolve(import.meta.dirname, "../../../node_modules/.bin/redis-effect")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const tool = (args: ReadonlyArray<string>): Effect.Effect<Run> =>
  Effect.callback<Run>((resume) => {
    ChildProcess.execFile(bin, [...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout, stderr }))
    }).stdin?.end("")
  })

const expectCode = (run: Run, code: number) =>
  assert.strictEqual(run.code, code, `exit ${run.code}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(-2000)}`)

/** `redis-cli -c`: follows MOVED, so it reads any key of the cluster. */
const clusterGet = (seed: string, key: string): Effect.Effect<string> =>
  Effect.callback<string>((resume) => {
    const [host, port] = seed.split(":")
    ChildProcess.execFile("redis-cli", ["-c", "-h", host!, "-p", port!, "GET", key], (_e, stdout) => resume(Effect.succeed(stdout.trim())))
  })

const clusterKeys = (seed: string) =>
  Effect.map(tool(["cluster", "info", seed, "--json"]), (r) => JSON.parse(r.stdout).totals.keys as number)

const KEYS = 10_000

describe("redis-effect cluster import / backup (subprocess)", () => {
  it.layer(Layer.effect(Servers)(fixture), { excludeTestServices: true })("a 3-primary cluster and a standalone source", (it) => {
    it.effect("import 10k keys with --cluster-copy: the source keeps them, the oracle agrees", () =>
      Effect.gen(function*() {
        const { nodes, source } = yield* Servers
        const seed = addressOf(nodes[0]!)
        expectCode(yield* tool(["cluster", "create", ...nodes.map(addressOf), "--cluster-yes"]), 0)
        yield* source.cli("EVAL", `for i=1,${KEYS} do redis.call('SET','k:'..i,'v'..i) end`, "0")
        assert.strictEqual(yield* source.cli("DBSIZE"), String(KEYS))
        // A cluster node is not a valid source.
        expectCode(yield* tool(["cluster", "import", seed, "--cluster-from", addressOf(nodes[1]!)]), 2)

        const copied = yield* tool(["cluster", "import", seed, "--cluster-from", addressOf(source), "--cluster-copy"])
        expectCode(copied, 0)
        assert.include(copied.stdout, `imported ${KEYS} of ${KEYS} keys`)
        assert.match(copied.stderr, new RegExp(`import: ${KEYS}/${KEYS} keys`))
        assert.strictEqual(yield* source.cli("DBSIZE"), String(KEYS))
        assert.strictEqual(yield* clusterKeys(seed), KEYS)
        assert.strictEqual(yield* clusterGet(seed, "k:1234"), "v1234")
        yield* expectCliOk(seed)
      }), { timeout: 120_000 })

    it.effect("without --cluster-replace existing keys fail per key (exit 1); with it they are overwritten and moved", () =>
      Effect.gen(function*() {
        const { nodes, source } = yield* Servers
        const seed = addressOf(nodes[0]!)
        yield* source.cli("SET", "k:7", "changed")
        yield* source.cli("SET", "fresh", "new")
        const busy = yield* tool(["cluster", "import", seed, "--cluster-from", addressOf(source), "--json"])
        expectCode(busy, 1)
        const result = JSON.parse(busy.stdout)
        assert.strictEqual(result.scanned, KEYS + 1)
        assert.strictEqual(result.imported, 1)
        assert.strictEqual(result.failed.length, KEYS)
        assert.isTrue(result.failed.every((f: { error: string }) => /BUSYKEY/.test(f.error)), JSON.stringify(result.failed[0]))
        // Not imported: still on the source; "fresh" moved (no --cluster-copy).
        assert.strictEqual(yield* source.cli("DBSIZE"), String(KEYS))
        assert.strictEqual(yield* clusterGet(seed, "k:7"), "v7")
        assert.strictEqual(yield* clusterGet(seed, "fresh"), "new")

        const replaced = yield* tool(["cluster", "import", seed, "--cluster-from", addressOf(source), "--cluster-replace", "--cluster-batch", "500"])
        expectCode(replaced, 0)
        assert.include(replaced.stdout, `imported ${KEYS} of ${KEYS} keys`)
        assert.strictEqual(yield* source.cli("DBSIZE"), "0")
        assert.strictEqual(yield* clusterGet(seed, "k:7"), "changed")
        assert.strictEqual(yield* clusterKeys(seed), KEYS + 1)
        yield* expectCliOk(seed)
      }), { timeout: 120_000 })

    it.effect("backup: one RDB per primary and nodes.json; each RDB loads into a fresh server", () =>
      Effect.gen(function*() {
        const { nodes, scope } = yield* Servers
        const seed = addressOf(nodes[0]!)
        const folder = FS.mkdtempSync(Path.join(Os.tmpdir(), "redis-effect-backup-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => FS.rmSync(folder, { recursive: true, force: true })))
        const run = yield* tool(["cluster", "backup", seed, Path.join(folder, "out")])
        expectCode(run, 0)
        assert.match(run.stderr, /backup: 3\/3 nodes/)
        const out = Path.join(folder, "out")
        const table = JSON.parse(FS.readFileSync(Path.join(out, "nodes.json"), "utf8")) as Array<
          { id: string; role: string; rdb?: string; port: number }
        >
        assert.strictEqual(table.length, 3)
        const rdbs = FS.readdirSync(out).filter((f) => f.endsWith(".rdb"))
        assert.strictEqual(rdbs.length, 3)
        for (const entry of table) {
          assert.strictEqual(entry.role, "primary")
          assert.isTrue(FS.existsSync(entry.rdb!), entry.rdb)
          assert.include(Path.basename(entry.rdb!), `-${entry.port}-${entry.id}.rdb`)
        }
        let total = 0
        let found = ""
        for (const file of rdbs) {
          // A fresh, plain server reads the RDB at start (its own copy: a server may rewrite its file).
          const dir = FS.mkdtempSync(Path.join(folder, "load-"))
          FS.copyFileSync(Path.join(out, file), Path.join(dir, "dump.rdb"))
          const fresh = yield* RedisServer.make({ extraArgs: ["--dir", dir, "--dbfilename", "dump.rdb"] }).pipe(Scope.provide(scope))
          total += Number(yield* fresh.cli("DBSIZE"))
          const value = yield* fresh.cli("GET", "k:7")
          if (value !== "") found = value
          yield* fresh.stop
        }
        assert.strictEqual(total, KEYS + 1)
        assert.strictEqual(found, "changed")
        yield* expectCliOk(seed)
      }).pipe(Effect.scoped), { timeout: 120_000 })
  })

  const withPasswords = Effect.gen(function*() {
    const scope = yield* Effect.scope
    const nodes = yield* Effect.forEach(Array.from({ length: 3 }), () =>
      RedisServer.make({
        password: "cluster-secret",
        extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--masterauth", "cluster-secret"]
      }), { concurrency: "unbounded" })
    const source = yield* RedisServer.make({ password: "source-secret" })
    return { nodes, source, scope, spawn: () => Effect.die("unused") } satisfies Fixture
  })

  it.layer(Layer.effect(Servers)(withPasswords), { excludeTestServices: true })("passwords on both sides", (it) => {
    it.effect("import with -a (MIGRATE AUTH) and --cluster-from-pass; redis-cli check agrees; backup with -a", () =>
      Effect.gen(function*() {
        const { nodes, source } = yield* Servers
        const seed = addressOf(nodes[0]!)
        const auth = ["-a", "cluster-secret"]
        expectCode(yield* tool(["cluster", "create", ...nodes.map(addressOf), "--cluster-yes", ...auth]), 0)
        yield* source.cli("EVAL", "for i=1,1000 do redis.call('SET','p:'..i,i) end", "0")
        // Without the source's password the source refuses us: exit 2 (AuthError), nothing moved.
        expectCode(yield* tool(["cluster", "import", seed, "--cluster-from", addressOf(source), ...auth]), 2)
        assert.strictEqual(yield* source.cli("DBSIZE"), "1000")
        const run = yield* tool(["cluster", "import", seed, "--cluster-from", addressOf(source), "--cluster-from-pass", "source-secret", ...auth])
        expectCode(run, 0)
        assert.include(run.stdout, "imported 1000 of 1000 keys")
        assert.strictEqual(yield* source.cli("DBSIZE"), "0")
        const info = yield* tool(["cluster", "info", seed, "--json", ...auth])
        assert.strictEqual(JSON.parse(info.stdout).totals.keys, 1000)
        const check = yield* Effect.callback<string>((resume) => {
          ChildProcess.execFile("redis-cli", ["-a", "cluster-secret", "--no-auth-warning", "--cluster", "check", seed], (_e, stdout) =>
            resume(Effect.succeed(stdout.replace(/\x1b\[[0-9;]*m/g, ""))))
        })
        assert.match(check, /\[OK\] All 16384 slots covered/)
        assert.notMatch(check, /\[(ERR|WARNING)\]/)
        assert.match(check, /1000 keys/)
        // backup authenticates its replication sockets with the same password.
        const folder = FS.mkdtempSync(Path.join(Os.tmpdir(), "redis-effect-backup-auth-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => FS.rmSync(folder, { recursive: true, force: true })))
        const saved = yield* tool(["cluster", "backup", seed, folder, "--json", ...auth])
        expectCode(saved, 0)
        const files = JSON.parse(saved.stdout).files as Array<{ path: string; bytes: number }>
        assert.strictEqual(files.length, 3)
        for (const f of files) assert.strictEqual(FS.statSync(f.path).size, f.bytes)
        // Without the password: refused (AuthError, exit 2).
        expectCode(yield* tool(["cluster", "backup", seed, folder]), 2)
      }).pipe(Effect.scoped), { timeout: 120_000 })
  })
})
