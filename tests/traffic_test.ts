/**
 * Integration tests for deployments and traffic (issue 4): weighted splits, zero-downtime swaps,
 * failed deploys, rollback, route preconditions, sticky canaries, per-tenant pinning and weight
 * durability. A real `ten serve`, real fixture apps (one file per version, chosen by `{id}` in the
 * command), real KV, real HTTP over loopback through a raw client (the Host picks the route).
 * @module
 */
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import {
  type CliResult,
  type Daemon,
  FIXTURES,
  isAlive,
  PYTHON,
  type RawRequestOptions,
  type RawResponse,
  serviceBlock,
  type ServiceKeys,
  settingsBlock,
  sleep,
  startDaemon,
  tempDir,
} from "../testkit/mod.ts";

/** The shared route of the `notes` service. */
const NOTES = "notes.localhost";

// ---------------------------------------------------------------------------------------------
// Set-up helpers

/**
 * Makes `{dir}/apps/<id>.py` for every id: a symlink to the fixture that version runs, so one
 * service can have a good v1, an unhealthy v2 and a crashing v3, like real releases.
 */
async function appsDir(dir: string, versions: Record<string, string>): Promise<string> {
  const apps = `${dir}/apps`;
  await Deno.mkdir(apps, { recursive: true });
  for (const [id, fixture] of Object.entries(versions)) {
    await Deno.symlink(`${FIXTURES}/${fixture}`, `${apps}/${id}.py`);
  }
  return apps;
}

/** A service whose instance `<id>` runs `apps/<id>.py` and answers with `"tenant": "<id>"`. */
function versionedService(name: string, apps: string, keys: ServiceKeys = {}): string {
  return serviceBlock(name, {
    command: `${PYTHON} ${apps}/{id}.py`,
    health: "/health",
    env: { TENANT: "{id}" },
    ...keys,
  });
}

/**
 * Starts a daemon running the versioned service `notes` (with `services` keys: `notes` and more
 * versioned services over the same versions); a list of ids means `ok_server.py` for each.
 */
async function notesDaemon(
  dir: string,
  versions: Record<string, string> | readonly string[],
  services: Record<string, ServiceKeys> = {},
): Promise<Daemon> {
  const files = Array.isArray(versions)
    ? Object.fromEntries(versions.map((id) => [id, "ok_server.py"]))
    : versions as Record<string, string>;
  const apps = await appsDir(dir, files);
  // {id} picks the file to run, so only the ids that have one may be created by a Host name
  // (the config refuses {id} in a path under an open auto_create).
  const allow = { auto_create_allow: Object.keys(files) };
  const tables = Object.entries({ notes: {}, ...services })
    .map(([name, keys]) => versionedService(name, apps, { ...allow, ...keys }));
  return await startDaemon({ dir, config: settingsBlock() + tables.join("") });
}

// ---------------------------------------------------------------------------------------------
// API and CLI helpers

function ok0(res: CliResult, what: string): CliResult {
  equal(res.code, 0, `${what} failed (${res.code}):\n${res.stdout}\n${res.stderr}`);
  return res;
}

/** Spawns `notes:<id>` through the API (weight 100) and waits until it is healthy. */
async function spawn(d: Daemon, id: string, service = "notes"): Promise<number> {
  const res = await d.api("POST", "/api/instances/spawn", { process: service, id });
  equal(res.status, 200, res.body);
  const row = await d.untilInstance(
    `${service}:${id}`,
    (r) => r.status === "running" && r.health === "healthy" && r.pid !== null,
    { what: `${service}:${id} to be healthy` },
  );
  return row.pid!;
}

async function setWeight(d: Daemon, key: string, weight: number): Promise<void> {
  const res = await d.api("PUT", `/api/instances/${key}/weight`, { weight });
  equal(res.status, 200, res.body);
}

/** Spawns `notes:<id>` for every id (all at once), then sets their weights in order. */
async function spawnWeighted(d: Daemon, weights: Record<string, number>): Promise<void> {
  await Promise.all(Object.keys(weights).map((id) => spawn(d, id)));
  for (const [id, weight] of Object.entries(weights)) await setWeight(d, `notes:${id}`, weight);
}

/** `{ id: weight }` of every known instance of a service (asleep and stopped included). */
async function weightsOf(d: Daemon, service = "notes"): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await d.instances()) {
    const [s, id] = r.id.split(":");
    if (s === service) out[id!] = r.weight;
  }
  return out;
}

/** The version (`tenant` of the echo) that answered; asserts a 200 with a JSON body. */
function versionOf(res: RawResponse): string {
  equal(res.status, 200, `expected 200, got ${res.status}: ${res.body.slice(0, 300)}`);
  const tenant = (JSON.parse(res.body) as { tenant: string | null }).tenant;
  ok(typeof tenant === "string", `no tenant in ${res.body.slice(0, 300)}`);
  return tenant;
}

/** `n` requests to `host`, `concurrency` at a time, each on its own connection. */
async function burst(
  d: Daemon,
  host: string,
  n: number,
  options: RawRequestOptions & { concurrency?: number } = {},
): Promise<RawResponse[]> {
  const out: RawResponse[] = new Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await d.request(host, `/?n=${i}`, options);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 20 }, worker));
  return out;
}

/** How many responses each version gave. */
function tally(responses: readonly RawResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of responses) {
    const v = versionOf(r);
    counts[v] = (counts[v] ?? 0) + 1;
  }
  return counts;
}

/** The sticky cookie pair (`tenement_sticky_notes=v2`) a response sets, if any. */
function stickyPair(res: RawResponse, service = "notes"): string | undefined {
  const name = `tenement_sticky_${service}=`;
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(name));
  return cookie?.split(";")[0];
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** log P(X = x) for X ~ Binomial(n, p), by the recurrence P(x+1) = P(x)·(n−x)/(x+1)·p/(1−p). */
function binomialLogPmf(n: number, p: number): number[] {
  const out = [n * Math.log1p(-p)];
  for (let x = 0; x < n; x++) {
    out.push(out[x]! + Math.log((n - x) / (x + 1)) + Math.log(p / (1 - p)));
  }
  return out;
}

/**
 * The acceptance band for the count of a version with share `p` out of `n` requests:
 * mean n·p ± k·sd with sd = sqrt(n·p·(1−p)), and the exact binomial probability that a correct
 * implementation lands outside it (the test's false-failure rate).
 */
function binomialBand(n: number, p: number, k: number): {
  lo: number;
  hi: number;
  mean: number;
  sd: number;
  falseFailure: number;
} {
  const mean = n * p;
  const sd = Math.sqrt(n * p * (1 - p));
  const lo = Math.max(0, Math.ceil(mean - k * sd));
  const hi = Math.min(n, Math.floor(mean + k * sd));
  let falseFailure = 0;
  binomialLogPmf(n, p).forEach((logP, x) => {
    if (x < lo || x > hi) falseFailure += Math.exp(logP);
  });
  return { lo, hi, mean, sd, falseFailure };
}

/** Largest acceptable false-failure probability of a statistical assertion. */
const MAX_FALSE_FAILURE = 1e-6;

/** Asserts that `count` of `n` fits a weight share `p`, with the band computed, not guessed. */
function assertBinomial(count: number, n: number, p: number, what: string): void {
  const band = binomialBand(n, p, 5);
  ok(
    band.falseFailure < MAX_FALSE_FAILURE,
    `band [${band.lo}, ${band.hi}] is too narrow: P(outside) = ${band.falseFailure}`,
  );
  ok(
    count >= band.lo && count <= band.hi,
    `${what}: ${count} of ${n}, expected ${band.mean} ± ${
      (5 * band.sd).toFixed(1)
    } ([${band.lo}, ${band.hi}], P(outside | correct) = ${band.falseFailure.toExponential(2)})`,
  );
}

// ---------------------------------------------------------------------------------------------
// 1. Weighted split

Deno.test("weights 80/20 split 1000 requests binomially, weight 0 gets none, and both survive a daemon restart", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2", "v0"]);
  await spawnWeighted(d, { v1: 80, v2: 20, v0: 0 });
  deepEqual(await weightsOf(d), { v0: 0, v1: 80, v2: 20 });

  await t.step("1000 requests without cookies: v2 ≈ 20%, v0 exactly 0", async () => {
    const n = 1000;
    const counts = tally(await burst(d, NOTES, n));
    equal(counts["v0"] ?? 0, 0, `weight-0 instance answered: ${JSON.stringify(counts)}`);
    equal((counts["v1"] ?? 0) + (counts["v2"] ?? 0), n, JSON.stringify(counts));
    assertBinomial(counts["v2"] ?? 0, n, 20 / 100, "v2 (weight 20 of 100)");
  });

  await t.step(
    "after `ten serve` restarts, weights read back identical and the split holds",
    async () => {
      equal(await d.stop(), 0, d.stderr);
      await d.start();
      await d.untilInstances((all) => {
        const rows = all.filter((r) => r.id.startsWith("notes:"));
        return rows.length === 3 &&
          rows.every((r) => r.status === "running" && r.health === "healthy");
      }, { what: "all three instances healthy after the restart" });
      deepEqual(await weightsOf(d), { v0: 0, v1: 80, v2: 20 });
      const n = 400;
      const counts = tally(await burst(d, NOTES, n));
      equal(counts["v0"] ?? 0, 0, `weight-0 instance answered: ${JSON.stringify(counts)}`);
      assertBinomial(counts["v2"] ?? 0, n, 20 / 100, "v2 after restart");
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 2. Zero-downtime swap

interface Shot {
  readonly index: number;
  /** Milliseconds since the load started. */
  readonly sentMs: number;
  readonly status: number;
  readonly version: string;
  readonly error?: string;
}

Deno.test("deploy + route --stop-old under 200 req/s: every request 200, one switch from v1 to v2", async () => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2"]);
  ok0(await d.ten(["deploy", "notes:v1"]), "deploy notes:v1");
  const v1Pid = (await d.instance("notes:v1"))!.pid!;

  const total = 2000;
  const intervalMs = 5;
  const t0 = performance.now();
  const since = (): number => performance.now() - t0;
  const steps: Record<string, number> = {};
  let deployRes: CliResult | undefined;
  let routeRes: CliResult | undefined;
  const operator = (async () => {
    await sleep(1000);
    steps["deployStart"] = since();
    deployRes = await d.ten(["deploy", "notes:v2", "--weight", "0"]);
    steps["deployEnd"] = since();
    // Visible in the stream: with weight 0, v2 is healthy but gets nothing yet.
    await sleep(500);
    steps["routeStart"] = since();
    routeRes = await d.ten(["route", "notes", "--from", "v1", "--to", "v2", "--stop-old"]);
    steps["routeEnd"] = since();
  })();

  const shots: Promise<Shot>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = i * intervalMs - since();
    if (wait > 0) await sleep(wait);
    const sentMs = since();
    shots.push(
      d.request(NOTES, `/?i=${i}`, { timeoutMs: 20_000 }).then(
        (res) => {
          let version = "";
          try {
            version = String((JSON.parse(res.body) as { tenant: unknown }).tenant);
          } catch {
            version = `<${res.body.slice(0, 80)}>`;
          }
          return { index: i, sentMs, status: res.status, version };
        },
        (err: unknown) => ({ index: i, sentMs, status: 0, version: "", error: String(err) }),
      ),
    );
  }
  const results = await Promise.all(shots);
  await operator;
  const loadMs = since();
  ok0(deployRes!, "deploy notes:v2 --weight 0");
  ok0(routeRes!, "route --stop-old");

  const bad = results.filter((r) => r.status !== 200 || (r.version !== "v1" && r.version !== "v2"));
  equal(
    bad.length,
    0,
    `${bad.length} of ${total} requests failed; first: ${JSON.stringify(bad.slice(0, 5))}`,
  );
  const v1 = results.filter((r) => r.version === "v1");
  const v2 = results.filter((r) => r.version === "v2");
  const lastV1 = v1.at(-1)!;
  const firstV2 = v2[0]!;
  ok(v1.length > 0 && v2.length > 0, `v1 ${v1.length}, v2 ${v2.length}`);
  // The weight-0 deploy gives v2 nothing; everything sent after the route command returned
  // (its commit is done by then) goes to v2.
  ok(
    firstV2.sentMs >= steps["routeStart"]!,
    `v2 answered request ${firstV2.index} sent at ${
      firstV2.sentMs.toFixed(0)
    } ms, before the route command started at ${steps["routeStart"]!.toFixed(0)} ms`,
  );
  ok(
    lastV1.sentMs <= steps["routeEnd"]!,
    `v1 answered request ${lastV1.index} sent at ${
      lastV1.sentMs.toFixed(0)
    } ms, after the route command ended at ${steps["routeEnd"]!.toFixed(0)} ms`,
  );
  // One switch: the v1 and v2 runs overlap only by requests that were in flight together.
  const overlap = Math.max(0, lastV1.index - firstV2.index + 1);
  const mixed =
    results.filter((r) => r.index >= firstV2.index && r.index <= lastV1.index && r.version === "v1")
      .length;
  ok(overlap <= 40, `v1/v2 overlap of ${overlap} requests (${mixed} v1 among them) is not short`);

  // deno-lint-ignore no-console
  console.log(
    `  zero-downtime swap: ${total} requests in ${(loadMs / 1000).toFixed(1)} s, all 200; ` +
      `v1 ${v1.length}, v2 ${v2.length}; first v2 = #${firstV2.index} (sent ${
        firstV2.sentMs.toFixed(0)
      } ms), last v1 = #${lastV1.index} (sent ${
        lastV1.sentMs.toFixed(0)
      } ms), overlap ${overlap}; ` +
      `deploy ${steps["deployStart"]!.toFixed(0)}-${steps["deployEnd"]!.toFixed(0)} ms, route ${
        steps["routeStart"]!.toFixed(0)
      }-${steps["routeEnd"]!.toFixed(0)} ms`,
  );

  ok(!await isAlive(v1Pid), `v1 (pid ${v1Pid}) still runs after route --stop-old`);
  const v1Row = await d.instance("notes:v1");
  equal(v1Row?.pid, null);
  equal(v1Row?.status, "stopped");
  deepEqual(await weightsOf(d), { v1: 0, v2: 100 });

  const history = JSON.parse(ok0(await d.ten(["history", "--json"]), "history").stdout) as {
    action: string;
    target: string;
    outcome: string;
    actor: string;
  }[];
  deepEqual(
    history.map((h) => [h.action, h.target, h.outcome, h.actor]),
    [
      ["deploy", "notes:v1", "ok", "admin"],
      ["deploy", "notes:v2", "ok", "admin"],
      ["route", "notes", "ok", "admin"],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// 3. Failed deploys

Deno.test("a deploy that never becomes healthy fails cleanly and v1 keeps all traffic", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, {
    v1: "ok_server.py",
    sick: "unhealthy.py",
    broken: "crash_on_start.py",
  });
  ok0(await d.ten(["deploy", "notes:v1"]), "deploy notes:v1");
  const v1Pid = (await d.instance("notes:v1"))!.pid!;

  const allV1 = async (): Promise<void> => {
    const counts = tally(await burst(d, NOTES, 100));
    deepEqual(counts, { v1: 100 });
    equal((await d.instance("notes:v1"))?.pid, v1Pid, "v1 was restarted");
  };

  await t.step(
    "unhealthy.py with --timeout 3: non-zero, reason and last health check",
    async () => {
      const res = await d.ten(["deploy", "notes:sick", "--timeout", "3"]);
      notEqual(res.code, 0, res.stdout);
      ok(res.stderr.includes("Error:"), res.stderr);
      ok(res.stderr.includes("did not become healthy within 3 seconds"), res.stderr);
      ok(/last health check: HTTP 500/.test(res.stderr), res.stderr);
      const row = await d.instance("notes:sick");
      equal(row?.status, "stopped", JSON.stringify(row));
      equal(row?.pid, null);
      deepEqual(await weightsOf(d), { v1: 100, sick: 0 });
      await allV1();
    },
  );

  await t.step("crash_on_start.py: non-zero, and its stderr line is shown", async () => {
    const res = await d.ten(["deploy", "notes:broken", "--timeout", "3"]);
    notEqual(res.code, 0, res.stdout);
    ok(res.stderr.includes("Error:"), res.stderr);
    ok(res.stderr.includes("last health check"), res.stderr);
    // The tail of the instance's stderr, as its own indented block.
    ok(/^\s+stderr:$/m.test(res.stderr), res.stderr);
    ok(/^\s+fatal: cannot open database: \/nonexistent\/db$/m.test(res.stderr), res.stderr);
    const row = await d.instance("notes:broken");
    equal(row?.status, "stopped", JSON.stringify(row));
    equal(row?.pid, null);
    deepEqual(await weightsOf(d), { v1: 100, sick: 0, broken: 0 });
    await allV1();
  });

  await t.step("history records both failures with their reason", async () => {
    const history = JSON.parse(ok0(await d.ten(["history", "--json"]), "history").stdout) as {
      action: string;
      target: string;
      outcome: string;
      details: string;
    }[];
    const failed = history.filter((h) => h.outcome !== "ok");
    deepEqual(failed.map((h) => [h.action, h.target, h.outcome]), [
      ["deploy", "notes:sick", "error"],
      ["deploy", "notes:broken", "error"],
    ]);
    ok(failed[0]!.details.includes("did not become healthy"), failed[0]!.details);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Rollback

Deno.test("rollback restores the weights before the last route, also after --stop-old", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2"], { other: {} });
  await spawnWeighted(d, { v1: 70, v2: 30 });

  await t.step("route then rollback: 70/30 again; a second rollback toggles", async () => {
    ok0(await d.ten(["route", "notes", "--from", "v1", "--to", "v2"]), "route");
    deepEqual(await weightsOf(d), { v1: 0, v2: 100 });
    const res = ok0(await d.ten(["rollback", "notes"]), "rollback");
    ok(res.stdout.includes("notes:v1 weight = 70"), res.stdout);
    deepEqual(await weightsOf(d), { v1: 70, v2: 30 });
    ok0(await d.ten(["rollback", "notes"]), "second rollback");
    deepEqual(await weightsOf(d), { v1: 0, v2: 100 });
    ok0(await d.ten(["rollback", "notes"]), "third rollback");
    deepEqual(await weightsOf(d), { v1: 70, v2: 30 });
  });

  await t.step("after --stop-old, rollback starts v1 again and it gets traffic", async () => {
    const oldPid = (await d.instance("notes:v1"))!.pid!;
    ok0(await d.ten(["route", "notes", "--from", "v1", "--to", "v2", "--stop-old"]), "route");
    equal((await d.instance("notes:v1"))?.pid, null);
    ok(!await isAlive(oldPid));
    ok0(await d.ten(["rollback", "notes"]), "rollback");
    deepEqual(await weightsOf(d), { v1: 70, v2: 30 });
    const row = await d.instance("notes:v1");
    equal(row?.status, "running", JSON.stringify(row));
    ok(row?.pid && await isAlive(row.pid), "v1 runs again");
    // P(no v1 in 50 | share 0.7) = 0.3^50 ≈ 7e-27.
    const counts = tally(await burst(d, NOTES, 50));
    ok((counts["v1"] ?? 0) > 0, JSON.stringify(counts));
  });

  await t.step("rollback of a never-routed service fails clearly", async () => {
    const before = await weightsOf(d);
    const res = await d.ten(["rollback", "other"]);
    notEqual(res.code, 0, res.stdout);
    ok(/Error: .*never routed/.test(res.stderr), res.stderr);
    deepEqual(await weightsOf(d), before);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Route preconditions and admin-only routes

Deno.test("route needs a healthy target and an admin token", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, {
    v1: "ok_server.py",
    v2: "ok_server.py",
    sick: "unhealthy.py",
  }, { notes: { startup_timeout: 2 } });
  ok0(await d.ten(["deploy", "notes:v1"]), "deploy v1");
  await spawn(d, "v2");
  ok0(await d.ten(["weight", "notes:v2", "0"]), "weight v2 0");

  await t.step("--to an unhealthy instance: non-zero, weights unchanged", async () => {
    const spawned = await d.api("POST", "/api/instances/spawn", { process: "notes", id: "sick" });
    ok(spawned.status === 200 || spawned.status === 422, spawned.body);
    await d.untilInstance("notes:sick", (r) => r.health === "unhealthy");
    // sick has weight 100 (API spawn) but fails its health checks: the route skips it.
    equal((await d.instance("notes:sick"))?.weight, 100);
    deepEqual(tally(await burst(d, NOTES, 50)), { v1: 50 });
    const before = await weightsOf(d);
    const res = await d.ten(["route", "notes", "--from", "v1", "--to", "sick"]);
    notEqual(res.code, 0, res.stdout);
    ok(/Error: .*not healthy/.test(res.stderr), res.stderr);
    deepEqual(await weightsOf(d), before);
    ok0(await d.ten(["stop", "notes:sick"]), "stop sick");
  });

  await t.step("--to a stopped instance: non-zero, weights unchanged", async () => {
    ok0(await d.ten(["stop", "notes:v2"]), "stop v2");
    const before = await weightsOf(d);
    const res = await d.ten(["route", "notes", "--from", "v1", "--to", "v2"]);
    notEqual(res.code, 0, res.stdout);
    ok(/Error: .*not healthy/.test(res.stderr), res.stderr);
    deepEqual(await weightsOf(d), before);
    deepEqual(tally(await burst(d, NOTES, 20)), { v1: 20 });
  });

  await t.step("unknown instance: non-zero, says which", async () => {
    const before = await weightsOf(d);
    for (
      const args of [["--from", "v1", "--to", "nope"], ["--from", "nope", "--to", "v1"]]
    ) {
      const res = await d.ten(["route", "notes", ...args]);
      notEqual(res.code, 0, res.stdout);
      ok(res.stderr.includes("Error: Instance not found: notes:nope"), res.stderr);
    }
    deepEqual(await weightsOf(d), before);
    const api = await d.api("POST", "/api/route", { process: "notes", from: "v1", to: "nope" });
    equal(api.status, 404, api.body);
  });

  await t.step("a tenant token gets 403 on deploy, route, rollback and history", async () => {
    // A token for id "v1" owns notes:v1 for instance verbs, but traffic moves are admin-only.
    const tenant = await d.tenantToken("v1");
    const before = await weightsOf(d);
    const v1Pid = (await d.instance("notes:v1"))!.pid;
    const cases: [string, string, unknown?][] = [
      ["POST", "/api/deploy", { process: "notes", version: "v1", weight: 5 }],
      ["POST", "/api/deploy/plan", { process: "notes", version: "v1" }],
      ["POST", "/api/route", { process: "notes", from: "v2", to: "v1" }],
      ["POST", "/api/rollback", { process: "notes" }],
      ["GET", "/api/history"],
    ];
    for (const [method, path, body] of cases) {
      const res = await d.apiAs(tenant, method, path, body);
      equal(res.status, 403, `${method} ${path}: ${res.body}`);
      ok(/requires admin token/.test(JSON.parse(res.body).error), res.body);
    }
    const cli = await d.ten(["route", "notes", "--from", "v2", "--to", "v1"], {
      TENEMENT_TOKEN: tenant,
    });
    notEqual(cli.code, 0);
    deepEqual(await weightsOf(d), before);
    equal((await d.instance("notes:v1"))?.pid, v1Pid);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Sticky canaries

Deno.test("a sticky cookie keeps a client on its version during a canary", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2", "v3"]);
  await spawnWeighted(d, { v1: 90, v2: 10, v3: 0 });

  /** 50 requests sending `cookie`; all must land on `version` and set no new cookie. */
  const staysOn = async (cookie: string, version: string): Promise<void> => {
    const responses = await burst(d, NOTES, 50, { headers: { cookie }, concurrency: 10 });
    deepEqual(tally(responses), { [version]: 50 }, `with ${cookie}`);
    deepEqual(responses.map((r) => stickyPair(r)).filter((c) => c !== undefined), []);
  };

  /** The cookie a fresh client gets when it first lands on `version` (share 10%). */
  const pinTo = async (version: string): Promise<string> => {
    // P(no hit in 400 fresh clients | share 0.1) = 0.9^400 ≈ 5e-19.
    for (let i = 0; i < 400; i++) {
      const res = await d.request(NOTES, "/");
      if (versionOf(res) === version) return stickyPair(res) ?? `<${version} set no cookie>`;
    }
    return `<no fresh client landed on ${version}>`;
  };

  let v2Cookie = "";
  await t.step("the first response sets tenement_sticky_notes; 50 more stay on it", async () => {
    const first = await d.request(NOTES, "/");
    const pair = stickyPair(first);
    ok(pair, `no sticky cookie: ${JSON.stringify([...first.headers])}`);
    equal(pair, `tenement_sticky_notes=${versionOf(first)}`);
    const full = first.headers.getSetCookie().find((c) => c.startsWith("tenement_sticky_notes="))!;
    ok(/; Path=\//.test(full) && /HttpOnly/.test(full), full);
    await staysOn(pair, versionOf(first));
  });

  await t.step("a client pinned to the 10% canary stays on it", async () => {
    v2Cookie = await pinTo("v2");
    equal(v2Cookie, "tenement_sticky_notes=v2");
    await staysOn(v2Cookie, "v2");
  });

  await t.step("v2 → 0 while v3 takes 10: the v2 client moves and gets a new cookie", async () => {
    await setWeight(d, "notes:v3", 10);
    await setWeight(d, "notes:v2", 0);
    const res = await d.request(NOTES, "/", { headers: { cookie: v2Cookie } });
    const now = versionOf(res);
    notEqual(now, "v2");
    const pair = stickyPair(res);
    equal(pair, `tenement_sticky_notes=${now}`);
    await staysOn(pair!, now);
  });

  await t.step(
    "only v1 left: a client pinned to v3 moves and its stale pin is replaced",
    async () => {
      const v3Cookie = await pinTo("v3");
      equal(v3Cookie, "tenement_sticky_notes=v3");
      await setWeight(d, "notes:v3", 0);
      const res = await d.request(NOTES, "/", { headers: { cookie: v3Cookie } });
      equal(versionOf(res), "v1");
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith("tenement_sticky_notes="));
      // Either a new pin to v1 or an expired cookie; keeping the stale v3 pin is the defect.
      ok(
        cookie !== undefined &&
          (cookie.startsWith("tenement_sticky_notes=v1;") || /Max-Age=0\b/i.test(cookie)),
        `stale pin to v3 not replaced; Set-Cookie: ${JSON.stringify(res.headers.getSetCookie())}`,
      );
    },
  );

  await t.step("with one instance of weight > 0, a new client gets no cookie", async () => {
    const responses = await burst(d, NOTES, 20);
    deepEqual(tally(responses), { v1: 20 });
    deepEqual(responses.map((r) => r.headers.getSetCookie()).flat(), []);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Per-tenant pinning

Deno.test("a tenant created by its own Host is never on the shared route, and deploy/route leave it alone", async () => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2", "alice"]);
  ok0(await d.ten(["deploy", "notes:v1"]), "deploy v1");
  const direct = await d.request("alice.notes.localhost", "/");
  equal(versionOf(direct), "alice");
  const alicePid = (JSON.parse(direct.body) as { pid: number }).pid;
  equal((await d.instance("notes:alice"))?.weight, 0);

  deepEqual(tally(await burst(d, NOTES, 200)), { v1: 200 });

  ok0(await d.ten(["deploy", "notes:v2", "--weight", "0"]), "deploy v2");
  ok0(await d.ten(["route", "notes", "--from", "v1", "--to", "v2", "--stop-old"]), "route");
  deepEqual(await weightsOf(d), { alice: 0, v1: 0, v2: 100 });
  const alice = await d.instance("notes:alice");
  equal(alice?.status, "running");
  equal(alice?.pid, alicePid, "deploy/route restarted or stopped alice");
  ok(await isAlive(alicePid));

  deepEqual(tally(await burst(d, NOTES, 200)), { v2: 200 });
  const again = await d.request("alice.notes.localhost", "/");
  equal(versionOf(again), "alice");
  equal((JSON.parse(again.body) as { pid: number }).pid, alicePid);
});

// ---------------------------------------------------------------------------------------------
// 8. Weight validation and durability

Deno.test("weights are validated and survive an instance restart and a wake after idle", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2", "a"], { sleepy: { idle_timeout: 1 } });
  await Promise.all([spawn(d, "v1"), spawn(d, "v2")]);
  ok0(await d.ten(["weight", "notes:v1", "60"]), "weight 60");

  await t.step("101, -1, 2.5 and a string are refused and nothing changes", async () => {
    const before = await weightsOf(d);
    const cli = await d.ten(["weight", "notes:v1", "101"]);
    notEqual(cli.code, 0, cli.stdout);
    ok(cli.stderr.includes("Error:") && cli.stderr.includes("101"), cli.stderr);
    for (const weight of [101, -1, 2.5, "50", 1000]) {
      const res = await d.api("PUT", "/api/instances/notes:v1/weight", { weight });
      equal(res.status, 400, `weight ${JSON.stringify(weight)}: ${res.body}`);
    }
    const deploy = await d.api("POST", "/api/deploy", {
      process: "notes",
      version: "v2",
      weight: 101,
    });
    equal(deploy.status, 400, deploy.body);
    deepEqual(await weightsOf(d), before);
  });

  await t.step("`ten restart` keeps the weight", async () => {
    const oldPid = (await d.instance("notes:v1"))!.pid!;
    ok0(await d.ten(["restart", "notes:v1"]), "restart");
    const row = await d.untilInstance(
      "notes:v1",
      (r) => r.status === "running" && r.pid !== oldPid,
      { what: "v1 running again" },
    );
    equal(row.weight, 60);
  });

  await t.step("a wake after idle keeps the weight, and the weighted route wakes", async () => {
    await spawn(d, "a", "sleepy");
    ok0(await d.ten(["weight", "sleepy:a", "40"]), "weight 40");
    await d.untilStatus("sleepy:a", "asleep");
    equal((await d.instance("sleepy:a"))?.weight, 40);
    // The only instance sleeps: the weighted route must wake it rather than answer 503.
    equal(versionOf(await d.request("sleepy.localhost", "/")), "a");
    const row = await d.instance("sleepy:a");
    equal(row?.status, "running");
    equal(row?.weight, 40);
    await d.untilStatus("sleepy:a", "asleep");
    equal(versionOf(await d.request("a.sleepy.localhost", "/")), "a");
    equal((await d.instance("sleepy:a"))?.weight, 40);
  });
});

// ---------------------------------------------------------------------------------------------
// 9. Blue-green by default, and request-created tenants across daemon restarts

Deno.test("a tenant created by its own Host keeps weight 0 after a daemon restart and never answers the shared route", async () => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "carol"]);
  ok0(await d.ten(["deploy", "notes:v1"]), "deploy v1");
  equal(versionOf(await d.request("carol.notes.localhost", "/")), "carol");
  deepEqual(await weightsOf(d), { carol: 0, v1: 100 });

  equal(await d.stop(), 0, d.stderr);
  await d.start();
  await d.untilInstances(
    (all) =>
      all.filter((r) =>
        r.id.startsWith("notes:") && r.status === "running" && r.health === "healthy"
      )
        .length === 2,
    { what: "v1 and carol healthy after the restart" },
  );
  deepEqual(await weightsOf(d), { carol: 0, v1: 100 });
  const ps = ok0(await d.ten(["ps", "--all", "--json"]), "ps --all --json");
  const carol = (JSON.parse(ps.stdout) as { id: string; weight: number }[])
    .find((r) => r.id === "notes:carol");
  equal(carol?.weight, 0, ps.stdout);
  deepEqual(tally(await burst(d, NOTES, 100)), { v1: 100 });
  equal(versionOf(await d.request("carol.notes.localhost", "/")), "carol");
});

Deno.test("ten deploy without --weight: the first version gets 100, the next 0 and a hint to route; --weight wins", async (t) => {
  await using tmp = await tempDir();
  await using d = await notesDaemon(tmp.path, ["v1", "v2", "v3", "v4"]);

  await t.step("the first deploy of a service gets weight 100", async () => {
    const res = ok0(await d.ten(["deploy", "notes:v1"]), "deploy v1");
    ok(res.stdout.startsWith("Deploying notes:v1 with weight 100\n"), res.stdout);
    ok(res.stdout.endsWith("\nWeight: 100\nStatus: healthy\n"), res.stdout);
  });

  await t.step(
    "the next one gets 0, v1 keeps all traffic, and the CLI says what to run",
    async () => {
      const res = ok0(await d.ten(["deploy", "notes:v2"]), "deploy v2");
      ok(res.stdout.startsWith("Deploying notes:v2 with weight 0\n"), res.stdout);
      ok(
        res.stdout.endsWith(
          "\nWeight: 0\nStatus: healthy\nv1 keeps all traffic; next: ten route notes --from v1 --to v2\n",
        ),
        res.stdout,
      );
      deepEqual(await weightsOf(d), { v1: 100, v2: 0 });
      deepEqual(tally(await burst(d, NOTES, 50)), { v1: 50 });
    },
  );

  await t.step("the suggested route moves the traffic to v2", async () => {
    ok0(await d.ten(["route", "notes", "--from", "v1", "--to", "v2"]), "route");
    deepEqual(await weightsOf(d), { v1: 0, v2: 100 });
    deepEqual(tally(await burst(d, NOTES, 50)), { v2: 50 });
  });

  await t.step("an explicit --weight 100 wins and splits the traffic", async () => {
    const res = ok0(await d.ten(["deploy", "notes:v3", "--weight", "100"]), "deploy v3");
    ok(res.stdout.startsWith("Deploying notes:v3 with weight 100\n"), res.stdout);
    ok(!res.stdout.includes("keep"), res.stdout);
    deepEqual(await weightsOf(d), { v1: 0, v2: 100, v3: 100 });
  });

  await t.step("with two versions holding traffic, the hint names both", async () => {
    const res = ok0(await d.ten(["deploy", "notes:v4"]), "deploy v4");
    ok(
      res.stdout.endsWith(
        "v2 and v3 keep all traffic; next:\n" +
          "  ten route notes --from v2 --to v4\n" +
          "  ten route notes --from v3 --to v4\n",
      ),
      res.stdout,
    );
    deepEqual(await weightsOf(d), { v1: 0, v2: 100, v3: 100, v4: 0 });
  });

  await t.step("a client that sends a weight (as older ones always do) gets it", async () => {
    const res = await d.api("POST", "/api/deploy", {
      process: "notes",
      version: "v1",
      weight: 100,
    });
    equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { weight: number; others_with_traffic: string[] };
    equal(body.weight, 100);
    deepEqual(body.others_with_traffic, ["notes:v2", "notes:v3"]);
    deepEqual(await weightsOf(d), { v1: 100, v2: 100, v3: 100, v4: 0 });
  });

  await t.step("the plan route answers what a deploy would do and changes nothing", async () => {
    const res = await d.api("POST", "/api/deploy/plan", { process: "notes", version: "v5" });
    equal(res.status, 200, res.body);
    deepEqual(JSON.parse(res.body), {
      instance: "notes:v5",
      weight: 0,
      others_with_traffic: ["notes:v1", "notes:v2", "notes:v3"],
    });
    equal(await d.instance("notes:v5"), undefined);
  });
});
