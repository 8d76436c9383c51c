import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { run } from "../src/internal/process.ts"
import * as Tls from "../src/Tls.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "redis-effect-tls-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const verify = (caFile: string, certFile: string) =>
  Effect.map(run("openssl", ["verify", "-CAfile", caFile, certFile]), (r) => ({ ok: r.code === 0, output: r.stdout + r.stderr }))

const text = (certFile: string) =>
  Effect.map(run("openssl", ["x509", "-in", certFile, "-noout", "-text"]), (r) => r.stdout)

describe("Tls.generateCertificates", () => {
  it.effect("makes a CA, the good server and client certificates, and three bad ones", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const pki = yield* Tls.generateCertificates(Path.join(dir, "pki"))
      assert.strictEqual(pki.dir, Path.join(dir, "pki"))

      // server: trusted, valid for localhost and 127.0.0.1
      assert.isTrue((yield* verify(pki.ca.certFile, pki.server.certFile)).ok)
      const server = new Crypto.X509Certificate(pki.server.cert)
      assert.strictEqual(server.checkHost("localhost"), "localhost")
      assert.strictEqual(server.checkIP("127.0.0.1"), "127.0.0.1")
      assert.isTrue(server.verify(new Crypto.X509Certificate(pki.ca.cert).publicKey))
      assert.include(yield* text(pki.server.certFile), "DNS:localhost, IP Address:127.0.0.1")
      assert.isTrue(Crypto.createPrivateKey(pki.server.key).asymmetricKeyType === "ec")

      // wronghost: trusted chain, but only for not-this-host.example
      assert.isTrue((yield* verify(pki.ca.certFile, pki.wronghost.certFile)).ok)
      const wronghost = new Crypto.X509Certificate(pki.wronghost.cert)
      assert.isUndefined(wronghost.checkHost("localhost"))
      assert.isUndefined(wronghost.checkIP("127.0.0.1"))
      assert.include(yield* text(pki.wronghost.certFile), "DNS:not-this-host.example")

      // untrusted: right names, unknown CA
      const untrusted = yield* verify(pki.ca.certFile, pki.untrusted.certFile)
      assert.isFalse(untrusted.ok)
      assert.match(untrusted.output, /unable to get local issuer certificate/)
      assert.isTrue((yield* verify(pki.otherCa.certFile, pki.untrusted.certFile)).ok)
      assert.strictEqual(new Crypto.X509Certificate(pki.untrusted.cert).checkHost("localhost"), "localhost")

      // expired: right names, trusted CA, out of date
      const expired = yield* verify(pki.ca.certFile, pki.expired.certFile)
      assert.isFalse(expired.ok)
      assert.match(expired.output, /certificate has expired/)
      assert.isBelow(new Date(new Crypto.X509Certificate(pki.expired.cert).validTo).getTime(), Date.now())

      // client: trusted, for client authentication
      assert.isTrue((yield* verify(pki.ca.certFile, pki.client.certFile)).ok)
      assert.include(yield* text(pki.client.certFile), "TLS Web Client Authentication")
      assert.isTrue(new Crypto.X509Certificate(pki.ca.cert).ca)
    }).pipe(Effect.scoped))
})
