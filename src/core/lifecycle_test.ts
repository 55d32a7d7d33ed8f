import { deepEqual, equal, ok } from "node:assert/strict";
import type { ExitDecision } from "./exit_decision.ts";
import {
  healthOf,
  INSTANCE_STATUSES,
  type InstanceEvent,
  type InstanceState,
  isAwake,
  judgeHealth,
  reasonOf,
  retryAtOf,
  statusOf,
  transition,
  UNHEALTHY_AFTER_FAILURES,
} from "./lifecycle.ts";

const STATES: Record<InstanceState["kind"], InstanceState> = {
  stopped: { kind: "stopped", reason: "stopped by request" },
  asleep: { kind: "asleep", reason: "idle for 30s" },
  starting: { kind: "starting" },
  unready: { kind: "unready", sinceMs: 10, health: "unknown", healthFailures: 0 },
  ready: { kind: "ready", readyAtMs: 20, health: "healthy", healthFailures: 0 },
  stopping: { kind: "stopping", health: "healthy" },
  backoff: { kind: "backoff", reason: "exited with code 1", retryAtMs: 2_000 },
  failed: { kind: "failed", reason: "exited with code 1; more", retryAtMs: 9_000 },
};

const RESTART: ExitDecision = {
  kind: "restart",
  reason: { end: { kind: "exited", exit: { code: 1, signal: null }, lastStderr: "" } },
  delayMs: 1000,
  restartTimesMs: [100],
};

const EVENTS: Record<InstanceEvent["kind"], InstanceEvent> = {
  queued: { kind: "queued" },
  launched: { kind: "launched", nowMs: 100 },
  became_ready: { kind: "became_ready", nowMs: 100 },
  startup_timed_out: { kind: "startup_timed_out" },
  probed: { kind: "probed", isPass: true, detail: "HTTP 200", nowMs: 100, backoffResetMs: 60_000 },
  stop_begun: { kind: "stop_begun" },
  stopped: { kind: "stopped", rest: "asleep", reason: "idle for 30s" },
  shutdown: { kind: "shutdown" },
  ended: { kind: "ended", decision: RESTART, nowMs: 100 },
  retry_cleared: { kind: "retry_cleared" },
};

type Kind = InstanceState["kind"] | null;

/** The next state's kind for every (state, event) pair; null: the event is ignored. */
const TABLE: Record<InstanceEvent["kind"], Record<InstanceState["kind"], Kind>> = {
  queued: {
    stopped: "starting",
    asleep: "starting",
    starting: null,
    unready: null,
    ready: null,
    stopping: null,
    backoff: "starting",
    failed: "starting",
  },
  launched: {
    stopped: "unready",
    asleep: "unready",
    starting: "unready",
    unready: null,
    ready: null,
    stopping: null,
    backoff: "unready",
    failed: "unready",
  },
  became_ready: {
    stopped: null,
    asleep: null,
    starting: null,
    unready: "ready",
    ready: null,
    stopping: null,
    backoff: null,
    failed: null,
  },
  startup_timed_out: {
    stopped: null,
    asleep: null,
    starting: null,
    unready: "unready",
    ready: null,
    stopping: null,
    backoff: null,
    failed: null,
  },
  probed: {
    stopped: null,
    asleep: null,
    starting: null,
    unready: "ready",
    ready: "ready",
    stopping: null,
    backoff: null,
    failed: null,
  },
  stop_begun: {
    stopped: null,
    asleep: null,
    starting: null,
    unready: "stopping",
    ready: "stopping",
    stopping: null,
    backoff: null,
    failed: null,
  },
  stopped: {
    stopped: "asleep",
    asleep: "asleep",
    starting: "asleep",
    unready: "asleep",
    ready: "asleep",
    stopping: "asleep",
    backoff: "asleep",
    failed: "asleep",
  },
  shutdown: {
    stopped: null,
    asleep: null,
    starting: null,
    unready: "stopped",
    ready: "stopped",
    stopping: "stopped",
    backoff: "stopped",
    failed: null,
  },
  ended: {
    stopped: "backoff",
    asleep: "backoff",
    starting: "backoff",
    unready: "backoff",
    ready: "backoff",
    stopping: "backoff",
    backoff: "backoff",
    failed: "backoff",
  },
  retry_cleared: {
    stopped: null,
    asleep: null,
    starting: null,
    unready: null,
    ready: null,
    stopping: null,
    backoff: "backoff",
    failed: "failed",
  },
};

Deno.test("transition() for every state × event, ignoring the events that do not apply", async (t) => {
  for (
    const [eventKind, row] of Object.entries(TABLE) as [
      InstanceEvent["kind"],
      typeof TABLE.queued,
    ][]
  ) {
    for (const [stateKind, expected] of Object.entries(row) as [InstanceState["kind"], Kind][]) {
      await t.step(`${stateKind} + ${eventKind} → ${expected ?? "ignored"}`, () => {
        const next = transition(STATES[stateKind], EVENTS[eventKind]);
        equal(next === null ? null : next.state.kind, expected);
      });
    }
  }
});

Deno.test("transition() launched clears the reason and the retry time of a resting state", () => {
  const next = transition(STATES.failed, { kind: "launched", nowMs: 7 });
  deepEqual(next, {
    state: { kind: "unready", sinceMs: 7, health: "unknown", healthFailures: 0 },
    effects: [],
  });
  equal(reasonOf(next!.state), undefined);
  equal(retryAtOf(next!.state), undefined);
});

Deno.test("transition() readiness makes the instance ready and healthy and reports it", () => {
  deepEqual(transition(STATES.unready, { kind: "became_ready", nowMs: 50 }), {
    state: { kind: "ready", readyAtMs: 50, health: "healthy", healthFailures: 0 },
    effects: [{ kind: "report_ready" }],
  });
});

Deno.test("transition() a start-up timeout leaves the instance running but not ready", () => {
  const next = transition(STATES.unready, { kind: "startup_timed_out" });
  deepEqual(next?.state, { ...STATES.unready, health: "unhealthy" });
  equal(statusOf(next!.state), "starting");
});

Deno.test("transition() probes: degraded, then unhealthy with a restart on the third failure", () => {
  const fail = (nowMs: number): InstanceEvent => ({
    kind: "probed",
    isPass: false,
    detail: "HTTP 503",
    nowMs,
    backoffResetMs: 60_000,
  });
  let state: InstanceState = STATES.ready;
  const seen: [string, number, string[]][] = [];
  for (let i = 0; i < 3; i++) {
    const next = transition(state, fail(100 + i))!;
    state = next.state;
    seen.push([
      healthOf(state),
      "healthFailures" in state ? state.healthFailures : -1,
      next.effects.map((e) => e.kind),
    ]);
  }
  deepEqual(seen, [
    ["degraded", 1, []],
    ["degraded", 2, []],
    ["unhealthy", 3, ["restart_unhealthy"]],
  ]);
  deepEqual(transition(STATES.ready, fail(1))!.effects, []);
  const third = transition({ ...STATES.ready, healthFailures: 2 } as InstanceState, fail(1))!;
  deepEqual(third.effects, [{
    kind: "restart_unhealthy",
    reason: "health check failed 3 times in a row (HTTP 503)",
  }]);
});

Deno.test("transition() a pass long enough after becoming ready resets the crash count", () => {
  const pass = (nowMs: number): InstanceEvent => ({
    kind: "probed",
    isPass: true,
    detail: "HTTP 200",
    nowMs,
    backoffResetMs: 1_000,
  });
  deepEqual(transition(STATES.ready, pass(500))!.effects, []);
  deepEqual(transition(STATES.ready, pass(1_020))!.effects, [{ kind: "reset_crash_count" }]);
  // The first passing probe of an unready instance makes it ready.
  deepEqual(transition(STATES.unready, pass(30))!.effects, [{ kind: "report_ready" }]);
});

Deno.test("transition() ended words the reason and schedules the retry", () => {
  deepEqual(transition(STATES.ready, { kind: "ended", decision: RESTART, nowMs: 100 }), {
    state: { kind: "backoff", reason: "exited with code 1", retryAtMs: 1_100 },
    effects: [{ kind: "schedule_retry", delayMs: 1000 }],
  });
  const failed: ExitDecision = {
    kind: "failed",
    reason: { ...RESTART.reason, budget: { maxRestarts: 3, windowMs: 60_000 } },
    retryDelayMs: 8_000,
    restartTimesMs: [],
  };
  deepEqual(transition(STATES.ready, { kind: "ended", decision: failed, nowMs: 100 }), {
    state: {
      kind: "failed",
      reason: "exited with code 1; more than 3 restarts in 60s",
      retryAtMs: 8_100,
    },
    effects: [{ kind: "schedule_retry", delayMs: 8_000 }],
  });
  const stay: ExitDecision = {
    kind: "stay_stopped",
    reason: { ...RESTART.reason, policy: "never" },
  };
  deepEqual(transition(STATES.ready, { kind: "ended", decision: stay, nowMs: 100 }), {
    state: { kind: "stopped", reason: 'exited with code 1; restart = "never"' },
    effects: [{ kind: "set_desired", desired: "stopped" }],
  });
});

Deno.test("transition() shutdown keeps a backoff's reason and ignores resting states", () => {
  deepEqual(transition(STATES.backoff, { kind: "shutdown" })?.state, {
    kind: "stopped",
    reason: "exited with code 1",
  });
  equal(transition(STATES.asleep, { kind: "shutdown" }), null);
  equal(transition(STATES.failed, { kind: "shutdown" }), null);
});

Deno.test("statusOf() keeps the words of ten ps; running but not ready shows as starting", () => {
  const shown = Object.fromEntries(
    Object.entries(STATES).map(([kind, state]) => [kind, statusOf(state)]),
  );
  deepEqual(shown, {
    stopped: "stopped",
    asleep: "asleep",
    starting: "starting",
    unready: "starting",
    ready: "running",
    stopping: "stopping",
    backoff: "backoff",
    failed: "failed",
  });
  for (const state of Object.values(STATES)) ok(INSTANCE_STATUSES.includes(statusOf(state)));
});

Deno.test("healthOf() is failed when failed and unknown without a process", () => {
  deepEqual(Object.values(STATES).map(healthOf), [
    "unknown",
    "unknown",
    "unknown",
    "unknown",
    "healthy",
    "healthy",
    "unknown",
    "failed",
  ]);
  deepEqual(Object.values(STATES).map(isAwake), [
    false,
    false,
    true,
    true,
    true,
    true,
    false,
    false,
  ]);
});

Deno.test("judgeHealth() moves through degraded to unhealthy and back on one pass", () => {
  const results = [false, false, false, false, true, false, true, true];
  const seen: [string, number, boolean][] = [];
  let failures = 0;
  for (const isPass of results) {
    const verdict = judgeHealth(failures, isPass);
    seen.push([verdict.health, verdict.consecutiveFailures, verdict.shouldRestart]);
    failures = verdict.consecutiveFailures;
  }
  deepEqual(seen, [
    ["degraded", 1, false],
    ["degraded", 2, false],
    ["unhealthy", 3, true],
    ["unhealthy", 4, true],
    ["healthy", 0, false],
    ["degraded", 1, false],
    ["healthy", 0, false],
    ["healthy", 0, false],
  ]);
  equal(UNHEALTHY_AFTER_FAILURES, 3);
});

Deno.test("judgeHealth() a pass always resets, whatever came before", () => {
  for (const previous of [0, 1, 2, 3, 100]) {
    deepEqual(judgeHealth(previous, true), {
      health: "healthy",
      consecutiveFailures: 0,
      shouldRestart: false,
    });
  }
});

Deno.test("INSTANCE_STATUSES lists each status once", () => {
  equal(new Set(INSTANCE_STATUSES).size, INSTANCE_STATUSES.length);
  deepEqual([...INSTANCE_STATUSES].sort(), [
    "asleep",
    "backoff",
    "failed",
    "running",
    "starting",
    "stopped",
    "stopping",
  ]);
});
