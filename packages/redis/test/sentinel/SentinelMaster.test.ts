/**
 * The master backend's switch as a pure transition: states, inputs and the
 * actions the shell carries out. Primaries are plain `{ address }` records
 * and gates are strings; times are given.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisConfig from "@redis-effect/redis/RedisConfig"
import * as RedisError from "@redis-effect/redis/RedisError"
import type { SentinelEvent } from "@redis-effect/redis/sentinel/SentinelEvents"
import * as SentinelMaster from "@redis-effect/redis/sentinel/SentinelMaster"

interface P {
  readonly address: string
}
type S = SentinelMaster.MasterState<P, string>
type I = SentinelMaster.Input<P, string>

const A: P = { address: "10.0.0.1:6379" }
const B: P = { address: "10.0.0.2:6379" }
const NAME = "mymaster"
const SENTINEL = "127.0.0.1:26379"

const step = (state: S, input: I) => SentinelMaster.transition(state, input)
const event = (channel: string, payload: string): SentinelEvent => ({ channel, payload, sentinel: SENTINEL, receivedAt: 0 })
const switchMaster = (name: string, from: P, to: P) => {
  const [fh, fp] = from.address.split(":")
  const [th, tp] = to.address.split(":")
  return event("+switch-master", `${name} ${fh} ${fp} ${th} ${tp}`)
}
const on = (e: SentinelEvent, at: number, gate: string): I => ({ _tag: "Event", event: e, at, gate })
const failure = (message: string) =>
  RedisError.make(new RedisError.MasterNotFound({ masterName: NAME, message }), "NotSent")

/** The state after the first discovery installed `primary`. */
const serving = (primary: P): S =>
  step(SentinelMaster.initial<P, string>(NAME), { _tag: "Installed", primary, at: 1 }).state

/** `+selected-slave` (or the state event that follows it): B is about to replace A. */
const selected = (channel = "+selected-slave", name = NAME, master = "10.0.0.1 6379") =>
  event(channel, `slave 10.0.0.2:6379 10.0.0.2 6379 @ ${name} ${master}`)

/** Serving A, then B selected at 50 with gate `h1`. */
const holdingA = (): S => step(serving(A), on(selected(), 50, "h1")).state

/** Serving A, then `+switch-master` to B at 100 with gate `g1`. */
const switchingFromA = (): S => step(serving(A), on(switchMaster(NAME, A, B), 100, "g1")).state

describe("SentinelMaster.transition", () => {
  it("the first discovery serves the verified primary and records no switch", () => {
    const { actions, state } = step(SentinelMaster.initial<P, string>(NAME), { _tag: "Installed", primary: A, at: 1 })
    assert.strictEqual(state._tag, "Serving")
    assert.strictEqual(state._tag === "Serving" && state.primary, A)
    assert.deepStrictEqual(actions, [{ _tag: "Publish", primary: A, from: undefined, switch: undefined }])
  })

  it("a +switch-master for our master starts a switch: the old primary is retired at once, an urgent round tries the new one", () => {
    const { actions, state } = step(serving(A), on(switchMaster(NAME, A, B), 100, "g1"))
    assert.deepStrictEqual(state, {
      _tag: "Switching",
      masterName: NAME,
      demoted: new Map([[A.address, 100 + SentinelMaster.DEMOTED_MILLIS]]),
      holds: true,
      down: false,
      from: A,
      evidence: { what: `+switch-master from ${SENTINEL}`, at: 100 },
      held: "g1",
      error: undefined
    })
    assert.deepStrictEqual(actions, [
      { _tag: "Retire", primary: A },
      { _tag: "Cue", urgent: true, hint: RedisConfig.tcp("10.0.0.2", 6379), reason: "+switch-master" }
    ])
    // A lagging sentinel that still names A is not believed for a while.
    assert.isTrue(SentinelMaster.isDemoted(state, A.address, 101))
    assert.isFalse(SentinelMaster.isDemoted(state, A.address, 100 + SentinelMaster.DEMOTED_MILLIS))
    assert.isFalse(SentinelMaster.isDemoted(state, B.address, 101))
  })

  it("+promoted-slave is the same evidence, a second earlier", () => {
    const promoted = event("+promoted-slave", `slave 10.0.0.2:6379 10.0.0.2 6379 @ ${NAME} 10.0.0.1 6379`)
    const { actions, state } = step(serving(A), on(promoted, 100, "g1"))
    assert.strictEqual(state._tag, "Switching")
    assert.deepStrictEqual(state._tag === "Switching" && state.evidence, { what: `+promoted-slave from ${SENTINEL}`, at: 100 })
    assert.deepStrictEqual(actions.map((a) => a._tag), ["Retire", "Cue"])
  })

  it("a second +switch-master for the same address is idempotent: the switch goes on, a round is cued without hurry", () => {
    const first = switchingFromA()
    const { actions, state } = step(first, on(switchMaster(NAME, A, B), 120, "g2"))
    assert.deepStrictEqual(state, first)
    assert.deepStrictEqual(actions, [{ _tag: "Cue", urgent: false, hint: undefined, reason: "+switch-master" }])
    // Once on B, an announcement of B changes nothing either.
    const onB = step(first, { _tag: "Installed", primary: B, at: 150 }).state
    const again = step(onB, on(switchMaster(NAME, A, B), 160, "g3"))
    assert.deepStrictEqual(again.state, onB)
    assert.deepStrictEqual(again.actions.map((a) => a._tag), ["Cue"])
  })

  it("a +switch-master for another master name is ignored", () => {
    const before = serving(A)
    const { actions, state } = step(before, on(switchMaster("other", A, B), 100, "g1"))
    assert.strictEqual(state, before)
    assert.deepStrictEqual(actions, [])
  })

  it("a demoted primary (READONLY) starts a switch and an urgent re-discovery with no hint", () => {
    const { actions, state } = step(serving(A), { _tag: "Refused", primary: A, at: 200, gate: "g1" })
    assert.strictEqual(state._tag, "Switching")
    assert.deepStrictEqual(state._tag === "Switching" && state.evidence, { what: `READONLY from ${A.address}`, at: 200 })
    assert.deepStrictEqual(actions, [
      { _tag: "Retire", primary: A },
      { _tag: "Cue", urgent: true, hint: undefined, reason: "READONLY" }
    ])
    assert.isTrue(SentinelMaster.isDemoted(state, A.address, 201))
  })

  it("a late READONLY from a primary no longer in use changes nothing", () => {
    const switching = switchingFromA()
    assert.deepStrictEqual(step(switching, { _tag: "Refused", primary: A, at: 300, gate: "g2" }), {
      state: switching,
      actions: []
    })
    const onB = step(switching, { _tag: "Installed", primary: B, at: 150 }).state
    assert.deepStrictEqual(step(onB, { _tag: "Refused", primary: A, at: 300, gate: "g2" }), { state: onB, actions: [] })
  })

  it("a switch completes on the new primary's confirmation: held commands go there, the switch is published", () => {
    const { actions, state } = step(switchingFromA(), { _tag: "Installed", primary: B, at: 250 })
    assert.strictEqual(state._tag, "Serving")
    assert.strictEqual(state._tag === "Serving" && state.primary, B)
    assert.deepStrictEqual(actions, [
      { _tag: "Release", gate: "g1", primary: B },
      {
        _tag: "Publish",
        primary: B,
        from: A.address,
        switch: {
          from: A.address,
          to: B.address,
          evidence: `+switch-master from ${SENTINEL}`,
          evidenceAt: 100,
          switchedAt: 250
        }
      }
    ])
    // The demotion outlives the switch.
    assert.isTrue(SentinelMaster.isDemoted(state, A.address, 300))
  })

  it("a sentinel naming another primary retires the one in use; naming it again changes nothing", () => {
    const before = serving(A)
    assert.deepStrictEqual(step(before, { _tag: "Install", address: A.address, at: 50, gate: "g0" }), {
      state: before,
      actions: []
    })
    const { actions, state } = step(before, { _tag: "Install", address: B.address, at: 50, gate: "g1" })
    assert.strictEqual(state._tag, "Switching")
    assert.deepStrictEqual(state._tag === "Switching" && state.evidence, { what: `a sentinel names ${B.address}`, at: 50 })
    // No cue: the round that named B is the one that installs it.
    assert.deepStrictEqual(actions, [{ _tag: "Retire", primary: A }])
    const done = step(state, { _tag: "Installed", primary: B, at: 60 })
    assert.deepStrictEqual(done.actions.map((a) => a._tag), ["Release", "Publish"])
  })

  it("a failed attempt keeps the commands held while another is cued, and fails them when none is", () => {
    const first = failure("sentinels down")
    const waiting = step(switchingFromA(), { _tag: "Failed", error: first, pending: true })
    assert.deepStrictEqual(waiting.actions, [])
    assert.strictEqual(waiting.state._tag, "Switching")
    assert.strictEqual(waiting.state._tag === "Switching" && waiting.state.error, first)
    // An interrupted round (no error) fails with the last error known.
    const given = step(waiting.state, { _tag: "Failed", error: undefined, pending: false })
    assert.strictEqual(given.state._tag, "Vacant")
    assert.deepStrictEqual(given.actions, [{ _tag: "Fail", gate: "g1", error: first }])
    // With no error known at all, the commands keep waiting (their own timeout bounds them).
    const noError = step(switchingFromA(), { _tag: "Failed", error: undefined, pending: false })
    assert.deepStrictEqual(noError.actions, [])
    assert.strictEqual(noError.state._tag, "Switching")
    // A primary in use stays in use when a periodic round fails.
    const before = serving(A)
    assert.deepStrictEqual(step(before, { _tag: "Failed", error: first, pending: false }), { state: before, actions: [] })
  })

  it("after a failure the next command starts another attempt; commands already held do not", () => {
    const vacant = step(switchingFromA(), { _tag: "Failed", error: failure("x"), pending: false }).state
    const { actions, state } = step(vacant, { _tag: "Await", gate: "g2" })
    assert.strictEqual(state._tag, "Switching")
    assert.strictEqual(state._tag === "Switching" && state.held, "g2")
    // The switch's evidence and origin survive the failed attempt.
    assert.strictEqual(state._tag === "Switching" && state.from, A)
    assert.deepStrictEqual(actions, [{ _tag: "Cue", urgent: false, hint: undefined, reason: "a command waits for a primary" }])
    assert.deepStrictEqual(step(state, { _tag: "Await", gate: "g3" }), { state, actions: [] })
    // Installed after that: the switch is still recorded from A, with the first evidence.
    const done = step(state, { _tag: "Installed", primary: B, at: 900 })
    const publish = done.actions.find((a) => a._tag === "Publish")
    assert.deepStrictEqual(publish?._tag === "Publish" && publish.switch, {
      from: A.address,
      to: B.address,
      evidence: `+switch-master from ${SENTINEL}`,
      evidenceAt: 100,
      switchedAt: 900
    })
  })

  it("events about the service and watcher reconnects cue a round; events about others do not", () => {
    const before = serving(A)
    assert.deepStrictEqual(step(before, on(event("+sdown", `master ${NAME} 10.0.0.1 6379`), 1, "g")).actions, [
      { _tag: "Cue", urgent: false, hint: undefined, reason: "+sdown" }
    ])
    assert.deepStrictEqual(step(before, on(event("+sdown", "master other 10.0.0.1 6379"), 1, "g")).actions, [])
    assert.deepStrictEqual(step(before, on(event("reconnect", ""), 1, "g")).actions, [
      { _tag: "Cue", urgent: false, hint: undefined, reason: `reconnect to ${SENTINEL}` }
    ])
    // A malformed +switch-master about us is still a cue.
    assert.deepStrictEqual(step(before, on(event("+switch-master", `${NAME} garbage`), 1, "g")).actions.map((a) => a._tag), [
      "Cue"
    ])
  })

  it("an announcement of a demoted address makes it acceptable again", () => {
    const refused = step(serving(A), { _tag: "Refused", primary: A, at: 200, gate: "g1" }).state
    assert.isTrue(SentinelMaster.isDemoted(refused, A.address, 201))
    const announced = step(refused, on(switchMaster(NAME, B, A), 210, "g2")).state
    assert.isFalse(SentinelMaster.isDemoted(announced, A.address, 211))
  })

  it("closing fails the held commands with Closed, and nothing moves a closed state", () => {
    const { actions, state } = step(switchingFromA(), { _tag: "Close" })
    assert.strictEqual(state._tag, "Closed")
    assert.deepStrictEqual(actions, [{ _tag: "Fail", gate: "g1", error: SentinelMaster.closedError }])
    assert.strictEqual(SentinelMaster.closedError.reason._tag, "Closed")
    assert.deepStrictEqual(step(serving(A), { _tag: "Close" }).actions, [])
    for (
      const input of [
        on(switchMaster(NAME, A, B), 1, "g"),
        { _tag: "Installed", primary: B, at: 1 },
        { _tag: "Await", gate: "g" },
        { _tag: "Refused", primary: A, at: 1, gate: "g" }
      ] satisfies ReadonlyArray<I>
    ) {
      assert.deepStrictEqual(step(state, input), { state, actions: [] })
    }
  })

  it("only Installed publishes, and a cue is always the last action (it may run the next round at once)", () => {
    const states: ReadonlyArray<S> = [SentinelMaster.initial(NAME), serving(A), switchingFromA(), holdingA()]
    const inputs: ReadonlyArray<I> = [
      on(switchMaster(NAME, A, B), 1, "g"),
      on(selected(), 1, "g"),
      on(event("-failover-abort-no-good-slave", `master ${NAME} 10.0.0.1 6379`), 1, "g"),
      { _tag: "Promoted", address: B.address, at: 1, gate: "g" },
      { _tag: "HoldExpired", since: 50 },
      on(event("+sdown", `master ${NAME} 10.0.0.1 6379`), 1, "g"),
      { _tag: "Refused", primary: A, at: 1, gate: "g" },
      { _tag: "Install", address: B.address, at: 1, gate: "g" },
      { _tag: "Failed", error: failure("x"), pending: false },
      { _tag: "Await", gate: "g" },
      { _tag: "Close" }
    ]
    for (const s of states) {
      for (const input of [...inputs, { _tag: "Installed", primary: B, at: 1 } satisfies I]) {
        const { actions } = step(s, input)
        if (input._tag !== "Installed") {
          assert.isFalse(actions.some((a) => a._tag === "Publish"), `${s._tag} + ${input._tag}`)
        }
        const cueAt = actions.findIndex((a) => a._tag === "Cue")
        assert.isTrue(cueAt === -1 || cueAt === actions.length - 1, `${s._tag} + ${input._tag}`)
      }
    }
  })

  describe("holding writes while the sentinels promote a replica", () => {
    it("+selected-slave (or send-slaveof-noone) for our primary holds writes and asks the shell to watch the replica", () => {
      for (const channel of ["+selected-slave", "+failover-state-send-slaveof-noone"]) {
        const { actions, state } = step(serving(A), on(selected(channel), 50, "h1"))
        assert.deepStrictEqual(state, {
          _tag: "Holding",
          masterName: NAME,
          demoted: new Map(),
          holds: true,
          down: false,
          primary: A,
          replica: RedisConfig.tcp("10.0.0.2", 6379),
          evidence: { what: `${channel} from ${SENTINEL}`, at: 50 },
          held: "h1"
        })
        assert.deepStrictEqual(actions, [{ _tag: "Hold", primary: A, replica: RedisConfig.tcp("10.0.0.2", 6379), since: 50 }])
      }
      // The second selection event of the same failover changes nothing.
      assert.deepStrictEqual(step(holdingA(), on(selected("+failover-state-send-slaveof-noone"), 51, "h2")).actions, [])
    })

    it("a selection for another service, another primary, or with holding off changes nothing", () => {
      assert.deepStrictEqual(step(serving(A), on(selected("+selected-slave", "other"), 50, "h")), { state: serving(A), actions: [] })
      assert.deepStrictEqual(step(serving(A), on(selected("+selected-slave", NAME, "10.0.0.9 6379"), 50, "h")).actions, [])
      const off = step(SentinelMaster.initial<P, string>(NAME, false), { _tag: "Installed", primary: A, at: 1 }).state
      assert.strictEqual(step(off, on(selected(), 50, "h")).state._tag, "Serving")
      // While a switch is under way there is nothing to hold: writes already wait.
      assert.strictEqual(step(switchingFromA(), on(selected(), 150, "h")).state._tag, "Switching")
    })

    it("the watched replica answering ROLE master retires the old primary; the held writes keep their gate", () => {
      const { actions, state } = step(holdingA(), { _tag: "Promoted", address: B.address, at: 70, gate: "unused" })
      assert.strictEqual(state._tag, "Switching")
      assert.strictEqual(state._tag === "Switching" && state.held, "h1")
      assert.deepStrictEqual(state._tag === "Switching" && state.evidence, { what: `ROLE master from ${B.address}`, at: 70 })
      assert.isTrue(SentinelMaster.isDemoted(state, A.address, 71))
      assert.deepStrictEqual(actions, [
        { _tag: "Retire", primary: A },
        { _tag: "Cue", urgent: true, hint: RedisConfig.tcp("10.0.0.2", 6379), reason: "the selected replica was promoted" }
      ])
      // A promotion of another address is not this hold's.
      assert.strictEqual(step(holdingA(), { _tag: "Promoted", address: "10.0.0.9:6379", at: 70, gate: "g" }).state._tag, "Holding")
    })

    it("+promoted-slave or +switch-master while holding: the same switch, on the held gate", () => {
      for (const e of [switchMaster(NAME, A, B), event("+promoted-slave", `slave 10.0.0.2:6379 10.0.0.2 6379 @ ${NAME} 10.0.0.1 6379`)]) {
        const { actions, state } = step(holdingA(), on(e, 90, "unused"))
        assert.strictEqual(state._tag === "Switching" && state.held, "h1")
        assert.deepStrictEqual(actions.map((a) => a._tag), ["Retire", "Cue"])
      }
      // READONLY from the held primary, or discovery naming B, end the hold the same way.
      const refused = step(holdingA(), { _tag: "Refused", primary: A, at: 90, gate: "unused" }).state
      assert.strictEqual(refused._tag === "Switching" && refused.held, "h1")
      const installed = step(holdingA(), { _tag: "Install", address: B.address, at: 90, gate: "unused" }).state
      assert.strictEqual(installed._tag === "Switching" && installed.held, "h1")
      // Discovery still naming A keeps the hold.
      assert.strictEqual(step(holdingA(), { _tag: "Install", address: A.address, at: 90, gate: "g" }).state._tag, "Holding")
    })

    it("an aborted failover or an expired hold releases the held writes to the old primary and looks again", () => {
      for (const channel of ["-failover-abort-not-elected", "-failover-abort-no-good-slave", "-failover-abort-slave-timeout"]) {
        const { actions, state } = step(holdingA(), on(event(channel, `master ${NAME} 10.0.0.1 6379`), 90, "g"))
        assert.strictEqual(state._tag === "Serving" && state.primary, A)
        assert.deepStrictEqual(actions, [
          { _tag: "Release", gate: "h1", primary: A },
          { _tag: "Cue", urgent: false, hint: undefined, reason: channel }
        ])
      }
      const expired = step(holdingA(), { _tag: "HoldExpired", since: 50 })
      assert.strictEqual(expired.state._tag, "Serving")
      assert.deepStrictEqual(expired.actions[0], { _tag: "Release", gate: "h1", primary: A })
      // The expiry of an earlier hold does not end this one.
      assert.strictEqual(step(holdingA(), { _tag: "HoldExpired", since: 49 }).state._tag, "Holding")
      // An abort about another master does not end it either.
      assert.strictEqual(step(holdingA(), on(event("-failover-abort-no-good-slave", "master other 10.0.0.1 6379"), 90, "g")).state._tag, "Holding")
    })

    it("after +odown the failover is not a planned one: nothing is held; -odown clears it", () => {
      const odown = event("+odown", `master ${NAME} 10.0.0.1 6379 #quorum 2/2`)
      const down = step(serving(A), on(odown, 40, "g"))
      assert.strictEqual(down.state._tag === "Serving" && down.state.down, true)
      assert.deepStrictEqual(down.actions.map((a) => a._tag), ["Cue"])
      const chosen = step(down.state, on(selected(), 50, "h"))
      assert.strictEqual(chosen.state._tag, "Serving")
      assert.deepStrictEqual(chosen.actions, [])
      const up = step(down.state, on(event("-odown", `master ${NAME} 10.0.0.1 6379`), 45, "g")).state
      assert.strictEqual(step(up, on(selected(), 50, "h")).state._tag, "Holding")
    })

    it("a round that verified the old primary before the promotion does not install it after", () => {
      // The round asked the sentinels (still naming A) while holding; the
      // hold then saw B promoted and demoted A.
      const promoted = step(holdingA(), { _tag: "Promoted", address: B.address, at: 70, gate: "unused" }).state
      const late = step(promoted, { _tag: "Installed", primary: A, at: 72 })
      assert.strictEqual(late.state, promoted)
      assert.deepStrictEqual(late.actions, [{ _tag: "Cue", urgent: true, hint: undefined, reason: `${A.address} was demoted` }])
      // The round the promotion cued installs B on the held gate.
      const installed = step(late.state, { _tag: "Installed", primary: B, at: 75 })
      assert.strictEqual(installed.state._tag === "Serving" && installed.state.primary, B)
      assert.deepStrictEqual(installed.actions[0], { _tag: "Release", gate: "h1", primary: B })
    })

    it("closing while holding fails the held writes", () => {
      assert.deepStrictEqual(step(holdingA(), { _tag: "Close" }).actions, [{ _tag: "Fail", gate: "h1", error: SentinelMaster.closedError }])
    })
  })
})
