/**
 * A throw-away test PKI, made with the `openssl` command line tool.
 *
 * `generateCertificates(dir)` writes, under `dir`:
 *
 * | name        | signed by    | subjectAltName                      | use                                  |
 * |-------------|--------------|-------------------------------------|--------------------------------------|
 * | `ca`        | itself       | —                                   | the trust anchor clients are given   |
 * | `server`    | `ca`         | DNS:localhost, IP:127.0.0.1         | the good server certificate          |
 * | `wronghost` | `ca`         | DNS:not-this-host.example           | hostname verification must reject it |
 * | `untrusted` | `otherCa`    | DNS:localhost, IP:127.0.0.1         | CA verification must reject it       |
 * | `expired`   | `ca`         | DNS:localhost, IP:127.0.0.1         | validity checks must reject it       |
 * | `client`    | `ca`         | —                                   | client certificate for mTLS          |
 *
 * Keys are EC P-256 (generating them takes milliseconds, RSA takes far longer).
 * The expired certificate is issued with `-days -1`, which OpenSSL 3.0 accepts:
 * its `notAfter` lies one day before its `notBefore` (= now), so every
 * verifier reports it as expired.
 *
 * This module only produces files and PEM strings. It does not configure a
 * server (see `RedisServer`) or a client, and the keys are for tests only:
 * they are unencrypted and live in the test's temporary directory.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import { runOk } from "./internal/process.ts"
import type { ServerError } from "./ServerError.ts"

/**
 * A certificate and its private key, as files and as PEM text.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyPair {
  readonly certFile: string
  readonly keyFile: string
  /** PEM text of the certificate. */
  readonly cert: string
  /** PEM text of the unencrypted private key. */
  readonly key: string
}

/**
 * Everything `generateCertificates` produced.
 *
 * @category models
 * @since 0.1.0
 */
export interface TlsMaterial {
  readonly dir: string
  /** The CA that signs `server`, `wronghost`, `expired` and `client`. */
  readonly ca: KeyPair
  /** A second CA that nobody trusts; it signs `untrusted`. */
  readonly otherCa: KeyPair
  /** SAN DNS:localhost, IP:127.0.0.1, signed by `ca`. */
  readonly server: KeyPair
  /** SAN DNS:not-this-host.example, signed by `ca`. */
  readonly wronghost: KeyPair
  /** SAN DNS:localhost, IP:127.0.0.1, signed by `otherCa`. */
  readonly untrusted: KeyPair
  /** SAN DNS:localhost, IP:127.0.0.1, signed by `ca`, already expired. */
  readonly expired: KeyPair
  /** A client certificate for mutual TLS, signed by `ca`. */
  readonly client: KeyPair
}

/**
 * The server certificates a TLS test server can present.
 *
 * @category models
 * @since 0.1.0
 */
export type ServerCertificate = "server" | "wronghost" | "untrusted" | "expired"

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

const SERVER_SAN = "DNS:localhost,IP:127.0.0.1"

const readPair = (certFile: string, keyFile: string): Effect.Effect<KeyPair> =>
  Effect.sync(() => ({
    certFile,
    keyFile,
    cert: Fs.readFileSync(certFile, "utf8"),
    key: Fs.readFileSync(keyFile, "utf8")
  }))

const makeCa = (dir: string, name: string, commonName: string): Effect.Effect<KeyPair, ServerError> => {
  const certFile = Path.join(dir, `${name}.crt`)
  const keyFile = Path.join(dir, `${name}.key`)
  return runOk("openssl", [
    "req", "-x509", ...EC_KEY,
    "-keyout", keyFile, "-out", certFile,
    "-days", "3650", "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign"
  ]).pipe(Effect.andThen(readPair(certFile, keyFile)))
}

// Serial numbers must differ per issuer; a counter avoids the `.srl` file
// that `-CAcreateserial` would share between concurrent invocations.
let serial = 0x1000

const makeLeaf = (
  dir: string,
  name: string,
  issuer: KeyPair,
  options: { readonly commonName: string; readonly san?: string; readonly days: number; readonly client?: boolean }
): Effect.Effect<KeyPair, ServerError> => {
  const certFile = Path.join(dir, `${name}.crt`)
  const keyFile = Path.join(dir, `${name}.key`)
  const csrFile = Path.join(dir, `${name}.csr`)
  const extFile = Path.join(dir, `${name}.ext`)
  const extensions = [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyAgreement",
    `extendedKeyUsage=${options.client === true ? "clientAuth" : "serverAuth,clientAuth"}`,
    ...(options.san === undefined ? [] : [`subjectAltName=${options.san}`])
  ]
  return Effect.sync(() => Fs.writeFileSync(extFile, extensions.join("\n") + "\n")).pipe(
    Effect.andThen(runOk("openssl", ["req", "-new", ...EC_KEY, "-keyout", keyFile, "-out", csrFile, "-subj", `/CN=${options.commonName}`])),
    Effect.andThen(runOk("openssl", [
      "x509", "-req", "-in", csrFile,
      "-CA", issuer.certFile, "-CAkey", issuer.keyFile, "-set_serial", String(serial++),
      "-days", String(options.days), "-extfile", extFile, "-out", certFile
    ])),
    Effect.andThen(readPair(certFile, keyFile))
  )
}

/**
 * Generates the test PKI described in the module header under `dir` (created
 * if missing). Takes about 0.2 s.
 *
 * @category constructors
 * @since 0.1.0
 */
export const generateCertificates = (dir: string): Effect.Effect<TlsMaterial, ServerError> =>
  Effect.gen(function*() {
    const absolute = Path.resolve(dir)
    yield* Effect.sync(() => Fs.mkdirSync(absolute, { recursive: true, mode: 0o700 }))
    const [ca, otherCa] = yield* Effect.all([
      makeCa(absolute, "ca", "redis-effect test CA"),
      makeCa(absolute, "other-ca", "redis-effect untrusted CA")
    ], { concurrency: "unbounded" })
    const [server, wronghost, untrusted, expired, client] = yield* Effect.all([
      makeLeaf(absolute, "server", ca, { commonName: "localhost", san: SERVER_SAN, days: 3650 }),
      makeLeaf(absolute, "wronghost", ca, { commonName: "not-this-host.example", san: "DNS:not-this-host.example", days: 3650 }),
      makeLeaf(absolute, "untrusted", otherCa, { commonName: "localhost", san: SERVER_SAN, days: 3650 }),
      makeLeaf(absolute, "expired", ca, { commonName: "localhost", san: SERVER_SAN, days: -1 }),
      makeLeaf(absolute, "client", ca, { commonName: "redis-effect-client", days: 3650, client: true })
    ], { concurrency: "unbounded" })
    return { dir: absolute, ca, otherCa, server, wronghost, untrusted, expired, client }
  })
