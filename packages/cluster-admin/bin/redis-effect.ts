#!/usr/bin/env node
/**
 * The `redis-effect` executable: runs `Cli.run` with the process arguments
 * on Node (TCP/TLS transport, effect/cli's terminal services) and ends the
 * process with the tool's exit code (0 done, 1 problems or failure, 2 usage
 * error). This is the program's edge: the only place that runs an Effect.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as NodeTransport from "@redis-effect/node/NodeTransport"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Cli from "../src/Cli.ts"

const program = Cli.run(process.argv.slice(2)).pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, NodeTransport.layer)))

Effect.runPromiseExit(program).then((exit) => {
  if (Exit.isSuccess(exit)) {
    process.exitCode = 0
    return
  }
  const found = Cause.findErrorOption(exit.cause)
  if (found._tag === "None") {
    process.stderr.write(`redis-effect: ${Cause.pretty(exit.cause)}\n`)
    process.exitCode = 1
    return
  }
  const { code, message } = Cli.exitCodeOf(found.value)
  if (message !== undefined && message !== "") process.stderr.write(`${code === 1 ? "[ERR]" : "error:"} ${message}\n`)
  process.exitCode = code
})
