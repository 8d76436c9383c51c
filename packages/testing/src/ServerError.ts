/**
 * The one error type of `@redis-effect/testing`.
 *
 * A `ServerError` says that a test fixture could not be set up or driven: a
 * `redis-server` did not start or answer in time, `redis-cli` exited with an
 * error reply, `openssl` failed. Its `message` is meant for a human reading a
 * failed test, so it carries the relevant log tail or stderr.
 *
 * This module does not classify Redis errors: that is the client's job
 * (`RedisError` in `@redis-effect/redis`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A fixture (server process, CLI call, certificate generation) failed.
 *
 * @category errors
 * @since 0.1.0
 */
export class ServerError extends Schema.TaggedError<ServerError>("@redis-effect/testing/ServerError")("ServerError", {
  message: Schema.String
}) {}
