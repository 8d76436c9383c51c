/**
 * `redis-cli` as the cluster fixture uses it beyond one node's `cli`: the
 * `--cluster` subcommands (create, check, reshard, add-node, del-node) and
 * single commands written to redis-cli's stdin so that secrets in them
 * (`MIGRATE ... AUTH password`) stay off the command line `ps` shows.
 *
 * The password travels in `REDISCLI_AUTH`. Nothing here waits for the
 * cluster to settle; callers do that.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { ServerError } from "../../ServerError.ts"
import * as Proc from "../process.ts"
import { quote } from "../redisConf.ts"

/** The cluster-wide `redis-cli` calls, bound to the cluster's password. */
export interface ClusterCli {
  /** `redis-cli --cluster <args>`; fails on a non-zero exit, returns the report without colours. */
  readonly cluster: (args: ReadonlyArray<string>, timeoutMillis?: number) => Effect.Effect<string, ServerError>
  /** One command through redis-cli's stdin against the node on `port`; returns the reply (or error), trimmed. */
  readonly stdin: (port: number, args: ReadonlyArray<string>) => Effect.Effect<string, ServerError>
}

// redis-cli colours its --cluster reports even when stdout is a pipe.
const stripAnsi = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, "")

export const make = (password: string | undefined): ClusterCli => {
  const env: Record<string, string> = password === undefined ? {} : { REDISCLI_AUTH: password }
  return {
    cluster: (args, timeoutMillis = 60_000) =>
      Proc.run("redis-cli", ["--cluster", ...args], { env, timeoutMillis }).pipe(
        Effect.flatMap((result) => {
          const out = stripAnsi(result.stdout + result.stderr).trim()
          return result.code === 0
            ? Effect.succeed(out)
            : Effect.fail(new ServerError({ message: `redis-cli --cluster ${args.join(" ")} failed:\n${out}` }))
        })
      ),
    stdin: (port, args) =>
      Proc.run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--no-auth-warning"], {
        env,
        input: args.map(quote).join(" ") + "\n"
      }).pipe(Effect.map((result) => (result.stdout + result.stderr).trim()))
  }
}
