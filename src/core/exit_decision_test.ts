import { deepEqual, equal } from "node:assert/strict";
import {
  decideAfterEnd,
  describeEndReason,
  describeExit,
  type ExitDecision,
  isFailureExit,
  type RestartRules,
  type RunEnd,
} from "./exit_decision.ts";
import type { ExitInfo } from "./lifecycle.ts";

const CLEAN: ExitInfo = { code: 0, signal: null };
const FAILED: ExitInfo = { code: 1, signal: null };
const KILLED: ExitInfo = { code: null, signal: "SIGKILL" };

function exited(exit: ExitInfo, lastStderr = ""): RunEnd {
  return { kind: "exited", exit, lastStderr };
}

Deno.test("describeExit() names the exit code or the signal", () => {
  equal(describeExit(CLEAN), "exited with code 0");
  equal(describeExit({ code: 137, signal: null }), "exited with code 137");
  equal(describeExit(KILLED), "killed by SIGKILL");
  equal(describeExit({ code: 143, signal: "SIGTERM" }), "killed by SIGTERM");
});

Deno.test("describeExit() appends the trimmed last stderr line, quoted", () => {
  equal(describeExit(FAILED, "no db"), 'exited with code 1 (last stderr: "no db")');
  equal(describeExit(FAILED, "  no db \n"), 'exited with code 1 (last stderr: "no db")');
  equal(
    describeExit(FAILED, 'say "hi"\tnow'),
    'exited with code 1 (last stderr: "say \\"hi\\"\\tnow")',
  );
  equal(describeExit(KILLED, "oom"), 'killed by SIGKILL (last stderr: "oom")');
});

Deno.test("describeExit() leaves out empty or blank stderr", () => {
  for (const stderr of [undefined, "", "   ", "\n\t"]) {
    equal(describeExit(FAILED, stderr), "exited with code 1", JSON.stringify(stderr));
  }
});

Deno.test("describeExit() cuts stderr to 200 characters", () => {
  const text = describeExit(FAILED, "x".repeat(500));
  equal(text, `exited with code 1 (last stderr: "${"x".repeat(200)}")`);
});

Deno.test("isFailureExit() counts every exit but code 0 without a signal as a failure", () => {
  const cases: [exit: ExitInfo, isFailure: boolean][] = [
    [CLEAN, false],
    [FAILED, true],
    [{ code: 255, signal: null }, true],
    [KILLED, true],
    [{ code: 0, signal: "SIGTERM" }, true],
  ];
  for (const [exit, isFailure] of cases) equal(isFailureExit(exit), isFailure, describeExit(exit));
});

const NOW_MS = 1_000_000;
const RULES_BASE = {
  maxRestarts: 3,
  restartWindowMs: 60_000,
  backoff: { baseMs: 1000, maxMs: 8000 },
} as const;

/** Restart histories relative to NOW_MS and the 3-in-60s budget. */
const BUDGETS = {
  fresh: [] as number[],
  stale: [NOW_MS - 90_000, NOW_MS - 80_000, NOW_MS - 60_000],
  lastOne: [NOW_MS - 30_000, NOW_MS - 20_000],
  exhausted: [NOW_MS - 30_000, NOW_MS - 20_000, NOW_MS - 10_000],
};

/** A decision with its reason rendered, for comparing against the words users see. */
type Rendered =
  | { kind: "restart"; reason: string; delayMs: number; restartTimesMs: number[] }
  | { kind: "stay_stopped"; reason: string }
  | { kind: "failed"; reason: string; retryDelayMs: number; restartTimesMs: number[] };

function render(decision: ExitDecision): Rendered {
  return { ...decision, reason: describeEndReason(decision.reason) };
}

Deno.test("decideAfterEnd() for every policy × exit kind × budget state", async (t) => {
  const exits = { clean: CLEAN, failed: FAILED, killed: KILLED };
  const policies = ["always", "on-failure", "never"] as const;
  const restartWith = (exit: ExitInfo, timesMs: number[]): Rendered => ({
    kind: "restart",
    reason: describeExit(exit, "boom"),
    delayMs: 2000,
    restartTimesMs: [...timesMs, NOW_MS],
  });
  const failWith = (exit: ExitInfo): Rendered => ({
    kind: "failed",
    reason: `${describeExit(exit, "boom")}; more than 3 restarts in 60s`,
    retryDelayMs: 8000,
    restartTimesMs: [...BUDGETS.exhausted, NOW_MS],
  });
  const restarting = (exit: ExitInfo): Record<keyof typeof BUDGETS, Rendered> => ({
    fresh: restartWith(exit, []),
    stale: restartWith(exit, []),
    lastOne: restartWith(exit, BUDGETS.lastOne),
    exhausted: failWith(exit),
  });
  const staying = (reason: string): Record<keyof typeof BUDGETS, Rendered> => ({
    fresh: { kind: "stay_stopped", reason },
    stale: { kind: "stay_stopped", reason },
    lastOne: { kind: "stay_stopped", reason },
    exhausted: { kind: "stay_stopped", reason },
  });
  const expectations: Record<
    (typeof policies)[number],
    Record<keyof typeof exits, Record<keyof typeof BUDGETS, Rendered>>
  > = {
    always: { clean: restarting(CLEAN), failed: restarting(FAILED), killed: restarting(KILLED) },
    "on-failure": {
      clean: staying(
        'exited with code 0 (last stderr: "boom"); restart = "on-failure" skips clean exits',
      ),
      failed: restarting(FAILED),
      killed: restarting(KILLED),
    },
    never: {
      clean: staying('exited with code 0 (last stderr: "boom"); restart = "never"'),
      failed: staying('exited with code 1 (last stderr: "boom"); restart = "never"'),
      killed: staying('killed by SIGKILL (last stderr: "boom"); restart = "never"'),
    },
  };

  for (const policy of policies) {
    const rules: RestartRules = { ...RULES_BASE, restart: policy };
    for (const [exitName, exit] of Object.entries(exits) as [keyof typeof exits, ExitInfo][]) {
      for (const budgetName of Object.keys(BUDGETS) as (keyof typeof BUDGETS)[]) {
        await t.step(`${policy} / ${exitName} / ${budgetName}`, () => {
          const history = {
            crashCount: 3,
            restartTimesMs: BUDGETS[budgetName],
            nowMs: NOW_MS,
            random: 0.5,
          };
          deepEqual(
            render(decideAfterEnd(exited(exit, "boom"), history, rules)),
            expectations[policy][exitName][budgetName],
          );
        });
      }
    }
  }
});

Deno.test("decideAfterEnd() treats a start failure as a failed exit, in its own words", () => {
  const end: RunEnd = { kind: "start_failed", message: "command not found: ./app" };
  const history = { crashCount: 1, restartTimesMs: [], nowMs: NOW_MS, random: 0.5 };
  deepEqual(render(decideAfterEnd(end, history, { ...RULES_BASE, restart: "never" })), {
    kind: "stay_stopped",
    reason: "command not found: ./app",
  });
  deepEqual(render(decideAfterEnd(end, history, { ...RULES_BASE, restart: "on-failure" })), {
    kind: "restart",
    reason: "command not found: ./app",
    delayMs: 0,
    restartTimesMs: [NOW_MS],
  });
  deepEqual(
    render(
      decideAfterEnd(end, { ...history, restartTimesMs: BUDGETS.exhausted }, {
        ...RULES_BASE,
        restart: "always",
      }),
    ).reason,
    "command not found: ./app; more than 3 restarts in 60s",
  );
});

Deno.test("decideAfterEnd() restarts an unhealthy instance whatever its policy", () => {
  const end: RunEnd = { kind: "unhealthy", message: "health check failed 3 times in a row" };
  const history = { crashCount: 2, restartTimesMs: [], nowMs: NOW_MS, random: 0.5 };
  for (const restart of ["never", "on-failure", "always"] as const) {
    deepEqual(render(decideAfterEnd(end, history, { ...RULES_BASE, restart })), {
      kind: "restart",
      reason: "health check failed 3 times in a row",
      delayMs: 1000,
      restartTimesMs: [NOW_MS],
    });
  }
});

Deno.test("decideAfterEnd() delays restarts by the crash count's backoff", () => {
  const rules: RestartRules = { ...RULES_BASE, restart: "always", maxRestarts: 100 };
  const delays = [1, 2, 3, 4, 5, 6, 50].map((crashCount) => {
    const decision = decideAfterEnd(exited(FAILED), {
      crashCount,
      restartTimesMs: [],
      nowMs: NOW_MS,
      random: 0.5,
    }, rules);
    return decision.kind === "restart" ? decision.delayMs : decision.kind;
  });
  deepEqual(delays, [0, 1000, 2000, 4000, 8000, 8000, 8000]);
});

Deno.test("decideAfterEnd() passes its random to the backoff jitter", () => {
  const rules: RestartRules = {
    ...RULES_BASE,
    restart: "always",
    backoff: { baseMs: 1000, maxMs: 8000, jitter: 0.5 },
  };
  const delayAt = (random: number): number | string => {
    const d = decideAfterEnd(exited(FAILED), {
      crashCount: 3,
      restartTimesMs: [],
      nowMs: NOW_MS,
      random,
    }, rules);
    return d.kind === "restart" ? d.delayMs : d.kind;
  };
  deepEqual([delayAt(0), delayAt(0.5), delayAt(0.75)], [1000, 2000, 2500]);
});

Deno.test("decideAfterEnd() states the window in whole seconds", () => {
  const decision = decideAfterEnd(exited(KILLED), {
    crashCount: 1,
    restartTimesMs: [],
    nowMs: 0,
    random: 0.5,
  }, { ...RULES_BASE, restart: "always", maxRestarts: 0, restartWindowMs: 300_000 });
  deepEqual(render(decision), {
    kind: "failed",
    reason: "killed by SIGKILL; more than 0 restarts in 300s",
    retryDelayMs: 8000,
    restartTimesMs: [0],
  });
});
