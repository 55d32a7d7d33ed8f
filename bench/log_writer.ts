/**
 * What writing logs costs the daemon's event loop: appends 200k lines of 100 B (over 100
 * instances) into a LogStore, then runs a size-retention pass that deletes half the database,
 * once with the writes on the main thread (as before the writer worker) and once in the worker.
 * A 1 ms timer on the main thread records its worst lateness (the stall a proxied request would
 * see) during each phase; lines/s is appended lines over the time until all are stored.
 *
 *     deno run -A bench/log_writer.ts [--lines 200000] [--max-seconds 120]
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { print, tempDir } from "../testkit/mod.ts";
import { table } from "./lib.ts";
import { LogStore } from "../src/logs/log_store.ts";
import { usedBytes } from "../src/logs/log_retention.ts";

interface PhaseResult {
  readonly ms: number;
  readonly maxStallMs: number;
  /** 99th percentile of the timer's lateness. */
  readonly p99StallMs: number;
}

interface ModeResult {
  readonly mode: string;
  readonly write: PhaseResult;
  readonly linesPerSecond: number;
  readonly dropped: number;
  readonly retention: PhaseResult;
}

/** Worst lateness of a 1 ms timer while `work` runs. */
async function withStallMeter(work: () => Promise<void>): Promise<PhaseResult> {
  let last = performance.now();
  const stalls: number[] = [];
  let isMeasuring = false;
  const tick = (): void => {
    const nowMs = performance.now();
    if (isMeasuring) stalls.push(Math.max(0, nowMs - last - 1));
    last = nowMs;
  };
  const timer = setInterval(tick, 1);
  // Ticking before the work starts, and the gap up to its end counted too.
  await new Promise((resolve) => setTimeout(resolve, 5));
  last = performance.now();
  isMeasuring = true;
  const start = last;
  try {
    await work();
  } finally {
    tick();
    clearInterval(timer);
  }
  stalls.sort((a, b) => a - b);
  return {
    ms: performance.now() - start,
    maxStallMs: stalls.at(-1) ?? 0,
    p99StallMs: stalls[Math.floor(stalls.length * 0.99)] ?? 0,
  };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function runMode(isOffThread: boolean, lines: number, deadlineMs: number) {
  await using tmp = await tempDir();
  const path = `${tmp.path}/logs.db`;
  const payload = "x".repeat(90);
  let dropped = 0;
  {
    using store = LogStore.open(path, { retentionIntervalMs: 0, isWritingOffThread: isOffThread });
    await store.flush();
    const write = await withStallMeter(async () => {
      // Arrivals in bursts of 1000 lines, as many chatty pipes would deliver them.
      for (let i = 0; i < lines && performance.now() < deadlineMs; i++) {
        store.append("bench", `i${i % 100}`, "stdout", `${String(i).padStart(9, "0")} ${payload}`);
        if (i % 1000 === 999) await yieldToLoop();
      }
      await store.flush();
    });
    for (const count of store.droppedLines().values()) dropped += count;
    const db = new DatabaseSync(path, { readOnly: true });
    const half = Math.floor(usedBytes(db) / 2);
    db.close();
    store[Symbol.dispose]();
    let trimmed: LogStore | undefined;
    // open() starts the retention pass; flush() waits for it.
    const retention = await withStallMeter(async () => {
      trimmed = LogStore.open(path, {
        retentionIntervalMs: 0,
        maxSizeBytes: half,
        isWritingOffThread: isOffThread,
      });
      await trimmed.flush();
    });
    trimmed?.[Symbol.dispose]();
    return {
      mode: isOffThread ? "worker" : "main thread",
      write,
      linesPerSecond: (lines - dropped) / (write.ms / 1000),
      dropped,
      retention,
    } satisfies ModeResult;
  }
}

function flagOf(name: string, fallback: number): number {
  const index = Deno.args.indexOf(`--${name}`);
  const value = index >= 0 ? Number(Deno.args[index + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const lines = flagOf("lines", 200_000);
const deadlineMs = performance.now() + flagOf("max-seconds", 120) * 1000;
const results: ModeResult[] = [];
for (const isOffThread of [false, true]) {
  results.push(await runMode(isOffThread, lines, deadlineMs));
}
print(`## Log writer: ${lines} lines of 100 B over 100 instances, then retention of half`);
print();
print(table(
  [
    "writes on",
    "write ms",
    "max stall ms",
    "p99 stall ms",
    "lines/s",
    "dropped",
    "retention ms",
    "stall ms",
  ],
  results.map((r) => [
    r.mode,
    r.write.ms.toFixed(0),
    r.write.maxStallMs.toFixed(1),
    r.write.p99StallMs.toFixed(1),
    r.linesPerSecond.toFixed(0),
    String(r.dropped),
    r.retention.ms.toFixed(0),
    r.retention.maxStallMs.toFixed(1),
  ]),
));
print();
print("- stall: lateness of a 1 ms timer on the main thread (what a proxied request waits); on a");
print("  loaded shared box the max also holds time the thread was not scheduled or in GC.");
print(
  "- lines/s: lines stored per second; the main thread side stores them all because its writes",
);
print("  block the producer, the worker side keeps the producer running and drops the oldest.");
print(
  "- dropped: lines the bounded queue (16 MiB, 1 MiB per instance) dropped while the writer was behind.",
);
