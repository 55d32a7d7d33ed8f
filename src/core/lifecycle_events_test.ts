import { deepEqual } from "node:assert/strict";
import {
  classifyEvent,
  EVENT_PREFIX,
  exitedEvent,
  failedEvent,
  failedToStartEvent,
  type LifecycleFact,
  outOfMemoryEvent,
  readyEvent,
  restartingEvent,
  wokeEvent,
} from "./lifecycle_events.ts";

Deno.test("classifyEvent() reads back every counted event the builders make", () => {
  const cases: [string, LifecycleFact | undefined][] = [
    [restartingEvent(1000), { kind: "restart" }],
    [exitedEvent(42, "exited with code 3"), { kind: "exit", isCrash: true }],
    [exitedEvent(42, 'exited with code 0 (last stderr: "bye")'), { kind: "exit", isCrash: false }],
    [exitedEvent(42, "exited with code 0"), { kind: "exit", isCrash: false }],
    [exitedEvent(undefined, "killed by SIGKILL"), { kind: "exit", isCrash: true }],
    [exitedEvent(42, "out of memory (memory_limit_mb = 64)"), { kind: "exit", isCrash: true }],
    [outOfMemoryEvent(64), { kind: "oom" }],
    [failedEvent("exited with code 1; more than 3 restarts in 60s"), { kind: "failed" }],
    [failedToStartEvent("exited with code 1"), { kind: "failed" }],
    [readyEvent(12), { kind: "ready" }],
    [wokeEvent(420, "queued 0 ms, spawned 5 ms"), { kind: "wake", ms: 420 }],
    ["spawned (pid 1, port 2)", undefined],
    ["restarting, health check failed 3 times in a row (refused)", undefined],
  ];
  for (const [message, fact] of cases) {
    deepEqual(classifyEvent(EVENT_PREFIX + message), fact, message);
  }
  deepEqual(classifyEvent(restartingEvent(5)), undefined, "an app line without the prefix");
});
