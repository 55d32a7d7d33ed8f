/**
 * Idle memory of `ten serve`: RSS and PSS summed over the daemon's process tree (which must be the
 * daemon alone, every instance asleep), in four states:
 *
 * 1. empty: one service (a Go hello, auto_create), no instance ever started;
 * 2. N asleep: the same daemon after N instances (default 1000) were each started with
 *    `POST /api/instances/spawn` and stopped with `DELETE` (C in flight, default 20) — the realistic
 *    "1000 tenants known, 0 awake"; with `--cycles 2` (default) the same N are started and stopped
 *    once more and read again: growth between cycles means memory grows with starts, not tenants;
 * 3. N asleep after restart: the daemon stopped and started again; the N instances come back from
 *    its KV store, asleep;
 * 4. S services: a fresh daemon whose config has S (default 1000) `[service.sN]` tables, 0
 *    instances.
 *
 * Before each reading: 200 `GET /health` (as the baseline's memory.sh did), then a settle pause
 * (default 2 s); the reading is the median of 3 samples 500 ms apart. Target: RSS ≤ 60 MiB.
 * Never fails on the numbers.
 *
 *     deno run -A bench/idle_rss.ts [--instances 1000] [--services 1000] [--concurrency 20]
 *                                  [--cycles 2] [--settle-ms 2000] [--json FILE] [--max-seconds 240]
 * @module
 */
import {
  checkpoint,
  type Daemon,
  freePort,
  installSignalCleanup,
  print,
  progress,
  sleep,
  startGroup,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";
import {
  APPS,
  benchDaemon,
  benchEnv,
  buildGo,
  fmt,
  median,
  mib,
  now,
  parseFlags,
  problemNotes,
  report,
  runMain,
  table,
  type TreeMemory,
  treeMemory,
} from "./lib.ts";

/** Target for the idle daemon, MiB of RSS. */
export const TARGET_RSS_MIB = 60;

/** One memory reading. */
export interface Reading {
  readonly scenario: string;
  readonly instancesKnown: number;
  readonly servicesConfigured: number;
  readonly procs: number;
  /** OS threads of the tree (tokio's blocking pool grows under concurrent file/process work). */
  readonly threads: number;
  readonly rssMib: number;
  /** Private part of the RSS (heap, stacks). */
  readonly anonMib: number;
  /** File-backed part (the deno binary's pages, shared with every other deno process). */
  readonly fileMib: number;
  readonly pssMib: number;
  readonly peakRssMib: number;
  /** The same after two forced full GCs in the daemon (undefined when the hook did not answer). */
  readonly afterGc: {
    rssMib: number;
    anonMib: number;
    pssMib: number;
    /** V8 heap in use after the GC, from Deno.memoryUsage() inside the daemon. */
    heapUsedMib: number | undefined;
    heapTotalMib: number | undefined;
    externalMib: number | undefined;
  } | undefined;
  /** Time from `ten serve` exec to listening, ms (when this reading has its own start). */
  readonly startMs: number | undefined;
  readonly note: string;
}

/** One spawn + stop cycle over the N ids. */
export interface CreateCycle {
  readonly cycle: number;
  readonly n: number;
  readonly errors: number;
  readonly seconds: number;
  readonly firstError: string | undefined;
}

/** Whole result. */
export interface IdleRssResult {
  readonly date: string;
  readonly readings: Reading[];
  /** Creating the N asleep instances. */
  readonly create: CreateCycle[];
  readonly truncated: boolean;
  readonly notes: string[];
}

interface Memory {
  readonly found: TreeMemory;
  readonly afterGc: TreeMemory | undefined;
  readonly heap: Deno.MemoryUsage | undefined;
}

async function settledMemory(
  d: Daemon,
  settleMs: number,
): Promise<Memory> {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${d.url}/health`, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
  }
  await sleep(settleMs);
  const found = await medianOf3(d.pid);
  if (!(await d.forceGc())) return { found, afterGc: undefined, heap: undefined };
  const heap = d.lastHeap;
  await sleep(500);
  return { found, afterGc: await medianOf3(d.pid), heap };
}

/** Starts bench/apps/hello.ts, 200 GETs, settle, median of 3 readings; kills it. */
async function denoHello(env: Record<string, string>, settleMs: number): Promise<Memory> {
  await checkpoint();
  const port = freePort();
  await using child = startGroup(
    [Deno.execPath(), "run", "--allow-net", "--allow-env=PORT", `${APPS}/hello.ts`],
    { env: { ...env, PORT: String(port) }, clearEnv: true },
  );
  await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  }, { timeoutMs: 30_000, what: "bench/apps/hello.ts to answer" });
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
  }
  await sleep(settleMs);
  return { found: await medianOf3(child.pid), afterGc: undefined, heap: undefined };
}

async function medianOf3(pid: number): Promise<TreeMemory> {
  const samples: TreeMemory[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(500);
    samples.push(await treeMemory(pid));
  }
  const rss = median(samples.map((s) => s.rssKib));
  return samples.find((s) => s.rssKib === rss) ?? samples[samples.length - 1]!;
}

function reading(
  scenario: string,
  mem: Memory,
  known: number,
  services: number,
  startMs: number | undefined,
  note = "",
): Reading {
  const m = mem.found;
  const g = mem.afterGc;
  const r: Reading = {
    scenario,
    instancesKnown: known,
    servicesConfigured: services,
    procs: m.procs,
    threads: m.threads,
    rssMib: mib(m.rssKib),
    anonMib: mib(m.anonKib),
    fileMib: mib(m.fileKib),
    pssMib: mib(m.pssKib),
    peakRssMib: mib(m.hwmKib),
    afterGc: g
      ? {
        rssMib: mib(g.rssKib),
        anonMib: mib(g.anonKib),
        pssMib: mib(g.pssKib),
        heapUsedMib: mem.heap ? mem.heap.heapUsed / 2 ** 20 : undefined,
        heapTotalMib: mem.heap ? mem.heap.heapTotal / 2 ** 20 : undefined,
        externalMib: mem.heap ? mem.heap.external / 2 ** 20 : undefined,
      }
      : undefined,
    startMs,
    note: m.procs === 1 ? note : `${note}${note ? "; " : ""}${m.procs} processes in the tree`,
  };
  progress(
    `${scenario}: RSS ${fmt(r.rssMib)} MiB (anon ${fmt(r.anonMib)}), PSS ${fmt(r.pssMib)} MiB, ` +
      `after GC RSS ${fmt(r.afterGc?.rssMib)} (anon ${fmt(r.afterGc?.anonMib)}, JS heap used ` +
      `${fmt(r.afterGc?.heapUsedMib)}) (${m.procs} procs)`,
  );
  return r;
}

async function timedStart(d: Daemon): Promise<number> {
  const t0 = now();
  await d.start({ timeoutMs: 120_000, gcHook: true });
  return now() - t0;
}

/** Runs the benchmark, prints its table, returns the result. */
export async function main(args: readonly string[]): Promise<IdleRssResult> {
  const flags = parseFlags(args, {
    instances: "number",
    services: "number",
    concurrency: "number",
    cycles: "number",
    "settle-ms": "number",
    json: "string",
    "max-seconds": "number",
  });
  const n = Math.max(0, Math.floor((flags["instances"] as number | undefined) ?? 1000));
  const services = Math.max(1, Math.floor((flags["services"] as number | undefined) ?? 1000));
  const concurrency = Math.max(1, Math.floor((flags["concurrency"] as number | undefined) ?? 20));
  const cycles = Math.max(1, Math.floor((flags["cycles"] as number | undefined) ?? 2));
  const settleMs = Math.max(0, (flags["settle-ms"] as number | undefined) ?? 2000);
  const maxMs = ((flags["max-seconds"] as number | undefined) ?? 240) * 1000;
  installSignalCleanup();
  const startedAt = now();
  const env = benchEnv();
  const readings: Reading[] = [];
  const notes: string[] = [];
  let truncated = false;
  const create: CreateCycle[] = [];

  await using tmp = await tempDir("ten-bench-rss-");
  progress("building bench/apps/hello.go …");
  const goBin = await buildGo(tmp.path);

  // 1-3: one service, N instances created and stopped through the API, then a restart.
  {
    const dir = `${tmp.path}/one-service`;
    await Deno.mkdir(dir);
    await using d = await benchDaemon(
      dir,
      env,
      `[settings]\ndata_dir = "./data"\n\n[service.app]\ncommand = "${goBin}"\nidle_timeout = 0\n`,
    );
    const startMs = await timedStart(d);
    readings.push(
      reading("empty: 1 service, 0 instances", await settledMemory(d, settleMs), 0, 1, startMs),
    );

    // Each cycle spawns and stops the same N ids; cycles after the first show whether memory keeps
    // growing with starts (a leak) or stays at the first cycle's high-water mark.
    for (let cycle = 1; cycle <= cycles; cycle++) {
      if (now() - startedAt > maxMs) {
        truncated = true;
        notes.push(`--max-seconds reached: stopped before cycle ${cycle}`);
        break;
      }
      progress(`cycle ${cycle}: spawn + stop ${n} instances, ${concurrency} in flight …`);
      const t0 = now();
      let next = 0, done = 0, errors = 0;
      let firstError: string | undefined;
      const worker = async (): Promise<void> => {
        while (next < n) {
          if (now() - startedAt > maxMs) {
            truncated = true;
            return;
          }
          const id = `t${String(next++).padStart(4, "0")}`;
          try {
            await d.spawn("app", id);
            await d.stopInstance("app", id);
            done++;
          } catch (err: unknown) {
            errors++;
            firstError ??= (err as Error).message;
          }
          if ((done + errors) % 200 === 0) {
            progress(`  ${done + errors}/${n} (${((now() - t0) / 1000).toFixed(1)} s)`);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const seconds = (now() - t0) / 1000;
      create.push({ cycle, n: done, errors, seconds, firstError });
      if (truncated) notes.push(`--max-seconds reached: cycle ${cycle} did ${done} of ${n}`);
      const rows = await d.instances();
      const awake = rows.filter((r) => r.pid !== null).length;
      if (awake > 0) notes.push(`${awake} instances still had a process after cycle ${cycle}`);
      readings.push(
        reading(
          cycle === 1
            ? `${rows.length} asleep (spawned + stopped via API)`
            : `${rows.length} asleep, after spawn + stop cycle ${cycle}`,
          await settledMemory(d, settleMs),
          rows.length,
          1,
          undefined,
          `${done} starts in ${seconds.toFixed(1)} s${errors ? `, ${errors} errors` : ""}`,
        ),
      );
    }

    progress("restarting ten serve …");
    const code = await d.stop(60_000);
    if (code !== 0) notes.push(`ten serve exited ${code} on SIGTERM (with ${n} asleep)`);
    const restartMs = await timedStart(d);
    const restored = await d.instances();
    const byStatus = new Map<string, number>();
    for (const r of restored) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    readings.push(
      reading(
        `${restored.length} asleep, after daemon restart`,
        await settledMemory(d, settleMs),
        restored.length,
        1,
        restartMs,
        `restored: ${[...byStatus].map(([s, c]) => `${c} ${s}`).join(", ")}`,
      ),
    );
    notes.push(...problemNotes(d, "one service"));
  }

  // 4: many services, no instances.
  if (now() - startedAt <= maxMs) {
    const dir = `${tmp.path}/many-services`;
    await Deno.mkdir(dir);
    const tables = Array.from(
      { length: services },
      (_, i) => `[service.s${i}]\ncommand = "${goBin}"\nidle_timeout = 300\n`,
    );
    await using d = await benchDaemon(
      dir,
      env,
      `[settings]\ndata_dir = "./data"\n\n${tables.join("\n")}`,
    );
    const startMs = await timedStart(d);
    readings.push(
      reading(
        `${services} [service.sN] tables, 0 instances`,
        await settledMemory(d, settleMs),
        0,
        services,
        startMs,
      ),
    );
    notes.push(...problemNotes(d, "many services"));
  } else {
    truncated = true;
    notes.push("--max-seconds reached: the many-services variant was skipped");
  }

  // Reference: a bare Deno.serve hello, same method, so the numbers above can be read against the
  // runtime's own floor on this machine today.
  if (now() - startedAt <= maxMs) {
    readings.push(
      reading(
        "reference: bare Deno.serve hello",
        await denoHello(env, settleMs),
        0,
        0,
        undefined,
        "no tenement",
      ),
    );
  }

  const result: IdleRssResult = {
    date: new Date().toISOString(),
    readings,
    create,
    truncated,
    notes,
  };
  return await report(result, printIdleRss, flags["json"] as string | undefined);
}

/** Prints the table of a result. */
export function printIdleRss(r: IdleRssResult): void {
  print(`## Idle memory of ten serve (${r.date})`);
  print();
  print(
    `Summed over the daemon's process tree after 200 GET /health and a settle pause; median of 3 ` +
      `readings; MiB; target RSS ≤ ${TARGET_RSS_MIB} MiB.`,
  );
  print();
  const mark = (x: number | undefined): string =>
    x === undefined ? "-" : x <= TARGET_RSS_MIB ? "ok" : "OVER";
  print(table(
    [
      "state",
      "procs",
      "threads",
      "RSS",
      "anon",
      "file",
      "PSS",
      `RSS ≤ ${TARGET_RSS_MIB}?`,
      "RSS after GC",
      "anon after GC",
      "JS heap used",
      `≤ ${TARGET_RSS_MIB}?`,
      "peak RSS",
      "start ms",
      "note",
    ],
    r.readings.map((x) => [
      x.scenario,
      String(x.procs),
      String(x.threads),
      fmt(x.rssMib),
      fmt(x.anonMib),
      fmt(x.fileMib),
      fmt(x.pssMib),
      mark(x.rssMib),
      fmt(x.afterGc?.rssMib),
      fmt(x.afterGc?.anonMib),
      fmt(x.afterGc?.heapUsedMib),
      mark(x.afterGc?.rssMib),
      fmt(x.peakRssMib),
      fmt(x.startMs, 0),
      x.note,
    ]),
  ));
  print();
  const empty = r.readings[0];
  if (empty) {
    for (const x of r.readings.slice(1)) {
      const per = x.instancesKnown > 0
        ? x.instancesKnown
        : x.servicesConfigured > 1
        ? x.servicesConfigured
        : 0;
      if (per === 0) continue;
      const delta = x.rssMib - empty.rssMib;
      const gcDelta = x.afterGc && empty.afterGc
        ? x.afterGc.rssMib - empty.afterGc.rssMib
        : undefined;
      const sign = (v: number): string => (v >= 0 ? "+" : "");
      print(
        `- ${x.scenario}: ${sign(delta)}${fmt(delta)} MiB RSS over empty ` +
          `(${fmt((delta * 1024) / per, 2)} KiB each)` +
          (gcDelta === undefined ? "" : `; after GC ${sign(gcDelta)}${fmt(gcDelta)} MiB ` +
            `(${fmt((gcDelta * 1024) / per, 2)} KiB each)`),
      );
    }
  }
  for (const c of r.create) {
    print(
      `- Cycle ${c.cycle}: ${c.n} instances spawned + stopped in ${c.seconds.toFixed(1)} s ` +
        `(${fmt(c.n / c.seconds, 0)}/s)` +
        (c.errors > 0 ? `, ${c.errors} errors (first: ${c.firstError})` : ""),
    );
  }
  print(
    "- Baseline (perf-baseline.md §3): Deno.serve hello 31.6 MiB; Deno Map of 1000 stopped " +
      "entries 35.2; wake-proxy prototype with 1000 apps 40.5; nginx 12.2; Caddy 33.9.",
  );
  for (const note of r.notes) print(`- Note: ${note}`);
  if (r.truncated) print("- Note: results are partial (time limit).");
  print();
}

if (import.meta.main) await runMain(() => main(Deno.args));
