/**
 * Integration tests of the `ten` CLI: real `ten` processes (through `main.ts`) against a real
 * `ten serve` and real fixture apps. Checks the output lines, exit codes and side effects of
 * interface.md §1.
 * @module
 */
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import {
  apiSpawn,
  type CliResult,
  FIXTURES,
  instancesBlock,
  isAlive,
  okService,
  ORIGINAL_INSTANCE_KEYS,
  PYTHON,
  runTen,
  settingsBlock,
  startDaemon,
  succeeded,
  tempDir,
  tokenOf,
} from "../testkit/mod.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

/** Lines of stdout without the final newline. */
function linesOf(text: string): string[] {
  return text.replace(/\n$/, "").split("\n");
}

/** Asserts a run that failed with `code` and printed an `Error: ...` line on stderr. */
function failedWith(res: CliResult, code: number, what: string): void {
  equal(res.code, code, `${what}: expected exit ${code}, got ${res.code}:\n${res.stderr}`);
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Every path under `dir`, relative, sorted. */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${entry.name}`;
    out.push(rel);
    if (entry.isDirectory) out.push(...await listTree(dir, `${rel}/`));
  }
  return out.sort();
}

/** Pids written by ok_server.py as `$DATA_DIR/started-<pid>` under `root` (recursively). */
async function startedPids(root: string): Promise<number[]> {
  const pids: number[] = [];
  let names: string[];
  try {
    names = await listTree(root);
  } catch {
    return pids;
  }
  for (const rel of names) {
    const m = /(?:^|\/)started-(\d+)$/.exec(rel);
    if (m) pids.push(Number(m[1]));
  }
  return pids;
}

/** Pids a `ten serve` reported starting in its log (`Started svc:id (pid N)`). */
function loggedPids(stderr: string): number[] {
  return [...stderr.matchAll(/Started \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

/**
 * Runs `ten serve …` expecting it to exit on its own; after `timeoutMs` it is sent SIGTERM so a
 * regression fails the test instead of hanging it.
 */
async function runServeExpectingExit(
  args: readonly string[],
  cwd: string,
  timeoutMs = 20_000,
): Promise<CliResult & { timedOut: boolean }> {
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await runTen(args, { cwd, signal });
  return { ...res, timedOut: signal.aborted };
}

// ---------------------------------------------------------------------------------------------
// Version, help, usage errors

Deno.test("ten --version, --help and usage errors use exit codes 0 and 2", async (t) => {
  await t.step("--version and -V print `tenement <semver>` and exit 0", async () => {
    for (const flag of ["--version", "-V"]) {
      const res = succeeded(await runTen([flag]), flag);
      ok(/^tenement \d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?\n$/.test(res.stdout), res.stdout);
    }
  });
  await t.step("--help and -h print usage with the verbs on stdout and exit 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const res = succeeded(await runTen([flag]), flag);
      ok(res.stdout.includes("Usage: ten"), res.stdout);
      for (const verb of ["serve", "spawn", "stop", "restart", "ps", "health", "weight"]) {
        ok(res.stdout.includes(verb), `${verb} missing from help:\n${res.stdout}`);
      }
    }
  });
  await t.step("an unknown verb exits 2 with usage on stderr", async () => {
    const res = await runTen(["frobnicate"]);
    failedWith(res, 2, "ten frobnicate");
    ok(res.stderr.includes("frobnicate"), res.stderr);
    ok(res.stderr.includes("Usage:"), res.stderr);
    equal(res.stdout, "");
  });
  await t.step("a missing argument exits 2 with usage on stderr", async () => {
    for (const args of [["spawn"], ["stop"], ["weight", "notes:alice"]]) {
      const res = await runTen(args);
      failedWith(res, 2, `ten ${args.join(" ")}`);
      ok(/missing required argument/i.test(res.stderr), res.stderr);
      ok(res.stderr.includes(`Usage: ten ${args[0]}`), res.stderr);
    }
  });
  await t.step("an unknown option exits 2", async () => {
    const res = await runTen(["ps", "--bogus"]);
    failedWith(res, 2, "ten ps --bogus");
    ok(res.stderr.includes("--bogus"), res.stderr);
  });
});

// ---------------------------------------------------------------------------------------------
// token-gen

Deno.test("ten token-gen replaces the admin token while the daemon runs; --tenant leaves the file", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes"),
  });
  const file = `${d.dataDir}/.tenement/api_token`;
  const first = d.token;
  ok(TOKEN_PATTERN.test(first), first);
  equal((await d.api("GET", "/api/instances")).status, 200);

  let second = "";
  await t.step("prints the 6 lines of the spec and writes a 0600 token file", async () => {
    const res = succeeded(
      await runTen(["token-gen", "--config", d.configPath], { cwd: d.dir }),
      "token-gen",
    );
    const lines = linesOf(res.stdout);
    equal(lines.length, 6, res.stdout);
    equal(lines[0], "Generated admin API token:");
    equal(lines[1], "");
    ok(lines[2]!.startsWith("  ") && !lines[2]!.startsWith("   "), lines[2]);
    second = lines[2]!.slice(2);
    ok(TOKEN_PATTERN.test(second), `token ${JSON.stringify(second)} is not 43 url-safe chars`);
    equal(lines[3], "");
    equal(lines[4], `Token saved to ${d.dataDir}/.tenement/api_token`);
    equal(lines[5], `Use it in the Authorization header: Bearer ${second}`);
    // Scripts take the first line starting with two spaces: no earlier line may.
    equal(tokenOf(res.stdout), second);
    notEqual(second, first);
    const stat = await Deno.stat(file);
    equal((stat.mode ?? 0) & 0o777, 0o600, `mode ${(stat.mode ?? 0).toString(8)}`);
    equal((await Deno.readTextFile(file)).trim(), second);
  });

  await t.step("the running daemon refuses the old token and accepts the new one", async () => {
    d.token = first;
    const old = await d.api("GET", "/api/instances");
    equal(old.status, 401, old.body);
    d.token = second;
    const fresh = await d.api("GET", "/api/instances");
    equal(fresh.status, 200, fresh.body);
    // And the CLI picks the new token up from the file.
    succeeded(await d.ten(["ps"]), "ps with the new token file");
  });

  await t.step("--tenant alice prints the tenant lines and does not touch the file", async () => {
    const before = await Deno.stat(file);
    const res = succeeded(
      await runTen(["token-gen", "--tenant", "alice", "--config", d.configPath], { cwd: d.dir }),
      "token-gen --tenant",
    );
    const lines = linesOf(res.stdout);
    equal(lines.length, 6, res.stdout);
    equal(lines[0], "Generated tenant token for 'alice':");
    equal(lines[1], "");
    const tenantToken = tokenOf(res.stdout);
    equal(lines[2], `  ${tenantToken}`);
    ok(TOKEN_PATTERN.test(tenantToken), tenantToken);
    equal(lines[3], "");
    equal(lines[4], "This token can only access instances/logs for tenant 'alice'.");
    equal(lines[5], "Deploy and route operations are admin-only.");
    const after = await Deno.stat(file);
    equal((await Deno.readTextFile(file)).trim(), second);
    equal(after.mtime?.getTime(), before.mtime?.getTime());
    // The admin token still works.
    equal((await d.api("GET", "/api/instances")).status, 200);
  });
});

// ---------------------------------------------------------------------------------------------
// spawn, ps, stop, restart, health, weight

Deno.test("ten spawn, ps, health, weight, restart and stop print the original lines", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes"),
  });

  await t.step("ps with no instances prints two lines", async () => {
    const res = succeeded(await d.ten(["ps"]), "ps");
    deepEqual(linesOf(res.stdout), ["No running instances", `Server: ${d.url}`]);
  });

  const ports = new Map<string, number>();
  await t.step("spawn prints Spawned and Listening lines", async () => {
    // bob first: ps must sort rows anyway.
    for (const id of ["bob", "alice"]) {
      const res = succeeded(await d.ten(["spawn", `notes:${id}`]), `spawn notes:${id}`);
      const lines = linesOf(res.stdout);
      equal(lines.length, 2, res.stdout);
      equal(lines[0], `Spawned notes:${id}`);
      const m = /^Listening on 127\.0\.0\.1:(\d+)$/.exec(lines[1]!);
      ok(m, lines[1]);
      ports.set(id, Number(m[1]));
    }
    const rows = await d.instances();
    equal(rows.find((r) => r.id === "notes:alice")?.port, ports.get("alice"));
    equal(rows.find((r) => r.id === "notes:alice")?.status, "running");
  });

  await t.step("spawn of a running instance says so, exit 0, same process", async () => {
    const pid = (await d.instance("notes:alice"))?.pid;
    const res = succeeded(await d.ten(["spawn", "notes:alice"]), "second spawn");
    deepEqual(linesOf(res.stdout), [
      `notes:alice is already running (pid ${pid}, port ${ports.get("alice")})`,
    ]);
    equal((await d.instance("notes:alice"))?.pid, pid);
  });

  await t.step("ps prints the header, sorted rows and the footer", async () => {
    const res = succeeded(await d.ten(["ps"]), "ps");
    const lines = linesOf(res.stdout);
    equal(lines.length, 5, res.stdout);
    const header = [
      "INSTANCE".padEnd(20),
      "LISTEN".padEnd(20),
      "UPTIME".padEnd(10),
      "IDLE".padEnd(10),
      "HEALTH".padEnd(8),
      "WEIGHT".padEnd(6),
    ].join(" ");
    equal(lines[0]!.trimEnd(), header.trimEnd());
    const cols = (line: string): string[] =>
      [[0, 20], [21, 41], [42, 52], [53, 63], [64, 72], [73, 79]].map(([a, b]) =>
        line.slice(a, b).trim()
      );
    for (const [i, id] of [[1, "alice"], [2, "bob"]] as const) {
      const [instance, listen, uptime, idle, health, weight] = cols(lines[i]!);
      equal(instance, `notes:${id}`, lines[i]);
      equal(listen, `127.0.0.1:${ports.get(id)}`, lines[i]);
      ok(/^\d+[smhd]$/.test(uptime!), `uptime ${uptime}`);
      ok(/^\d+[smhd]$/.test(idle!), `idle ${idle}`);
      ok(["unknown", "healthy"].includes(health!), `health ${health}`);
      equal(weight, "100");
      // Columns are separated by exactly the padding: nothing leaks into the gaps.
      for (const gap of [20, 41, 52, 63, 72]) equal(lines[i]![gap], " ", `gap ${gap}: ${lines[i]}`);
    }
    equal(lines[3], "");
    equal(lines[4], `2 instance(s) running on ${d.url}`);
  });

  await t.step("ls is an alias of ps", async () => {
    const res = succeeded(await d.ten(["ls"]), "ls");
    ok(res.stdout.endsWith(`2 instance(s) running on ${d.url}\n`), res.stdout);
  });

  await t.step("ps --json prints the original keys", async () => {
    const res = succeeded(await d.ten(["ps", "--json"]), "ps --json");
    const rows = JSON.parse(res.stdout) as Record<string, unknown>[];
    deepEqual(rows.map((r) => r["id"]), ["notes:alice", "notes:bob"]);
    for (const r of rows) {
      for (const key of ORIGINAL_INSTANCE_KEYS) {
        ok(key in r, `key ${key} missing from ${JSON.stringify(r)}`);
      }
      equal(typeof r["uptime_secs"], "number");
      equal(typeof r["idle_secs"], "number");
      equal(typeof r["restarts"], "number");
      equal(typeof r["storage_used_bytes"], "number");
      equal(r["weight"], 100);
    }
    equal(rows[0]!["socket"], `127.0.0.1:${ports.get("alice")}`);
  });

  await t.step("health prints `<id>: healthy`", async () => {
    const res = succeeded(await d.ten(["health", "notes:alice"]), "health");
    equal(res.stdout, "notes:alice: healthy\n");
  });

  await t.step("weight 50 is stored; weight 150 fails and leaves 50", async () => {
    const res = succeeded(await d.ten(["weight", "notes:alice", "50"]), "weight 50");
    equal(res.stdout, "Set notes:alice weight to 50\n");
    equal((await d.instance("notes:alice"))?.weight, 50);
    for (const bad of ["150", "-1", "1.5", "x"]) {
      const res2 = await d.ten(["weight", "notes:alice", bad]);
      notEqual(res2.code, 0, `weight ${bad} succeeded: ${res2.stdout}`);
      ok(res2.stderr.startsWith("Error: "), res2.stderr);
      ok(/weight/i.test(res2.stderr), res2.stderr);
      ok(res2.stderr.includes("100"), `the error should name the range: ${res2.stderr}`);
      equal(res2.stdout, "");
      equal((await d.instance("notes:alice"))?.weight, 50, `after weight ${bad}`);
    }
  });

  await t.step("restart prints Restarted and runs a new process", async () => {
    const before = (await d.instance("notes:alice"))?.pid;
    ok(before);
    const res = succeeded(await d.ten(["restart", "notes:alice"]), "restart");
    equal(res.stdout, "Restarted notes:alice\n");
    const after = await d.instance("notes:alice");
    ok(after?.pid, JSON.stringify(after));
    notEqual(after.pid, before);
    equal(after.status, "running");
    equal(await isAlive(before), false, `old pid ${before} still alive`);
  });

  await t.step("stop prints Stopped and the process is gone", async () => {
    const pid = (await d.instance("notes:alice"))?.pid;
    ok(pid);
    const res = succeeded(await d.ten(["stop", "notes:alice"]), "stop");
    equal(res.stdout, "Stopped notes:alice\n");
    equal(await isAlive(pid), false, `pid ${pid} still alive after stop`);
    const ps = succeeded(await d.ten(["ps"]), "ps");
    ok(!ps.stdout.includes("notes:alice"), ps.stdout);
    ok(ps.stdout.endsWith(`1 instance(s) running on ${d.url}\n`), ps.stdout);
  });

  await t.step("stop of an unknown instance: Error: Instance not found, exit 1", async () => {
    const res = await d.ten(["stop", "notes:zed"]);
    failedWith(res, 1, "stop notes:zed");
    equal(res.stderr, "Error: Instance not found: notes:zed\n");
    equal(res.stdout, "");
  });

  await t.step("health and weight of an unknown instance fail with exit 1", async () => {
    for (const args of [["health", "notes:zed"], ["weight", "notes:zed", "10"]]) {
      const res = await d.ten(args);
      failedWith(res, 1, args.join(" "));
      equal(res.stderr, "Error: Instance not found: notes:zed\n");
    }
  });
});

Deno.test("ten ps --all shows running, stopped, asleep and failed instances with STATUS and REASON", async () => {
  const config = settingsBlock({ max_restarts: 1, backoff_max_ms: 60_000 }) + okService("notes") +
    okService("sleepy", { idle_timeout: 0.5 }) + `
[service.crash]
command = "${PYTHON} ${FIXTURES}/crash_on_start.py"
` + instancesBlock({ crash: ["d"] });
  // crash:d starts with the daemon: an explicit spawn that crashes at start-up is stopped instead.
  await using d = await startDaemon({ config });
  await apiSpawn(d, "notes", "alice");
  await apiSpawn(d, "notes", "bob");
  succeeded(await d.ten(["stop", "notes:bob"]), "stop notes:bob");
  await apiSpawn(d, "sleepy", "c");
  await d.untilStatus("sleepy:c", "asleep");
  await d.untilStatus("crash:d", "failed");

  const res = succeeded(await d.ten(["ps", "--all"]), "ps --all");
  const lines = linesOf(res.stdout);
  const header = lines[0]!;
  ok(header.startsWith("INSTANCE".padEnd(20) + " " + "LISTEN".padEnd(20)), header);
  const statusAt = header.indexOf("STATUS");
  const reasonAt = header.indexOf("REASON");
  ok(statusAt > header.indexOf("WEIGHT") && reasonAt > statusAt, header);
  const rows = new Map<string, { status: string; reason: string; line: string }>();
  for (const line of lines.slice(1)) {
    if (line === "") break;
    rows.set(line.slice(0, 20).trim(), {
      status: line.slice(statusAt, reasonAt).trim(),
      reason: line.slice(reasonAt).trim(),
      line,
    });
  }
  deepEqual([...rows.keys()], ["crash:d", "notes:alice", "notes:bob", "sleepy:c"]);
  equal(rows.get("notes:alice")?.status, "running");
  equal(rows.get("notes:bob")?.status, "stopped");
  ok(rows.get("notes:bob")!.reason.length > 0, rows.get("notes:bob")!.line);
  equal(rows.get("sleepy:c")?.status, "asleep");
  ok(rows.get("sleepy:c")!.reason.length > 0, rows.get("sleepy:c")!.line);
  equal(rows.get("crash:d")?.status, "failed");
  ok(rows.get("crash:d")!.reason.includes("exited with code 3"), rows.get("crash:d")!.line);
  ok(/\d+ instance\(s\)/.test(lines.at(-1)!), lines.at(-1));
  ok(lines.at(-1)!.endsWith(`on ${d.url}`), lines.at(-1));

  // Plain ps lists only the running one.
  const plain = succeeded(await d.ten(["ps"]), "ps");
  const names = linesOf(plain.stdout).slice(1).map((l) => l.slice(0, 20).trim()).filter((n) =>
    n !== "" && !n.includes("instance(s)")
  );
  deepEqual(names, ["notes:alice"]);
});

// ---------------------------------------------------------------------------------------------
// Bad instance ids

Deno.test("ten rejects malformed instance ids with exit 1 and creates nothing", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes"),
  });
  const treeBefore = await listTree(d.dir);
  const bad: [string, RegExp][] = [
    ["notes", /format|service:id/i],
    ["notes:../etc", /"\.\.\/etc"|\.\.\/etc/],
    ["notes:a.b", /a\.b/],
    ["notes:", /empty/i],
    [":x", /empty/i],
    [`notes:${"a".repeat(64)}`, /64|63|long/i],
    ["notes:a/b", /a\/b/],
    ["notes:a b", /a b|space/i],
  ];
  for (const verb of ["spawn", "stop", "restart", "health"]) {
    await t.step(`ten ${verb}`, async () => {
      for (const [id, pattern] of bad) {
        const res = await d.ten([verb, id]);
        failedWith(res, 1, `ten ${verb} ${id}`);
        ok(res.stderr.startsWith("Error: "), res.stderr);
        ok(pattern.test(res.stderr), `ten ${verb} ${JSON.stringify(id)}: ${res.stderr}`);
        equal(res.stdout, "");
      }
    });
  }
  await t.step("ten weight", async () => {
    const res = await d.ten(["weight", "notes:../etc", "10"]);
    failedWith(res, 1, "weight notes:../etc");
    ok(res.stderr.startsWith("Error: "), res.stderr);
  });
  deepEqual(await d.instances(), []);
  deepEqual(await listTree(d.dir), treeBefore);
});

// ---------------------------------------------------------------------------------------------
// Global options, token resolution, unreachable server

Deno.test("global options work before and after the verb; token resolution order", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes"),
  });
  const good = d.token;
  const cfg = d.configPath;
  const opts = { cwd: d.dir };

  await t.step("--server before and after the verb", async () => {
    for (
      const args of [
        ["--server", d.url, "--config", cfg, "ps"],
        ["ps", "--server", d.url, "--config", cfg],
        ["ps", "--config", cfg, "--server", `${d.url}/`],
      ]
    ) {
      const res = succeeded(await runTen(args, opts), args.join(" "));
      deepEqual(linesOf(res.stdout), ["No running instances", `Server: ${d.url}`]);
    }
  });

  await t.step("TENEMENT_SERVER is used without --server", async () => {
    const res = succeeded(
      await runTen(["ps", "--config", cfg], { ...opts, env: { TENEMENT_SERVER: d.url } }),
      "ps with TENEMENT_SERVER",
    );
    equal(linesOf(res.stdout)[1], `Server: ${d.url}`);
  });

  await t.step("--token wins over TENEMENT_TOKEN", async () => {
    succeeded(
      await d.ten(["--token", good, "ps"], { TENEMENT_TOKEN: "wrong-token-from-env" }),
      "--token good, env bad",
    );
    const res = await d.ten(["ps", "--token", "wrong-token-from-flag"], { TENEMENT_TOKEN: good });
    failedWith(res, 1, "--token bad, env good");
    ok(res.stderr.startsWith("Error: "), res.stderr);
    ok(/token|401|unauthori/i.test(res.stderr), res.stderr);
  });

  await t.step("TENEMENT_TOKEN wins over the api_token file", async () => {
    const res = await d.ten(["ps"], { TENEMENT_TOKEN: "wrong-token-from-env" });
    failedWith(res, 1, "env bad, file good");
    // The file is used when neither is given (d.ten adds neither).
    succeeded(await d.ten(["ps"]), "file only");
    // With no usable file, the env token alone is enough.
    succeeded(
      await d.ten(["ps", "--data-dir", `${d.dir}/elsewhere`], { TENEMENT_TOKEN: good }),
      "env good, no file",
    );
  });

  await t.step("no token anywhere: an error that says to run `ten token-gen`", async () => {
    const res = await d.ten(["ps", "--data-dir", `${d.dir}/elsewhere`]);
    failedWith(res, 1, "ps without a token");
    ok(res.stderr.startsWith("Error: "), res.stderr);
    ok(res.stderr.includes("ten token-gen"), res.stderr);
  });

  await t.step("an unreachable server: Error: Failed to connect to server at …", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const url = `http://127.0.0.1:${port}`;
    const res = await runTen(["ps", "--server", url, "--token", good], opts);
    failedWith(res, 1, "ps against a closed port");
    equal(linesOf(res.stderr)[0], `Error: Failed to connect to server at ${url}`);
    equal(res.stdout, "");
  });
});

// ---------------------------------------------------------------------------------------------
// Config discovery, ten config, ten serve with a bad config

Deno.test("config discovery: upward search, --config, TENEMENT_CONFIG, and none found", async (t) => {
  await using tmp = await tempDir();
  await using elsewhere = await tempDir();
  const config = settingsBlock() + okService("notes", { idle_timeout: 300 });
  await Deno.writeTextFile(`${tmp.path}/tenement.toml`, config);
  await Deno.mkdir(`${tmp.path}/a/b`, { recursive: true });

  const expectConfigOutput = (res: CliResult): void => {
    const lines = linesOf(res.stdout);
    ok(lines.includes(`Data dir: "${tmp.path}/data"`), res.stdout);
    ok(lines.includes("Health interval: 1s"), res.stdout);
    ok(lines.includes("Services:"), res.stdout);
    ok(lines.includes("  [notes]"), res.stdout);
    ok(lines.includes(`    command: ${PYTHON} ${FIXTURES}/ok_server.py`), res.stdout);
    ok(lines.includes("    isolation: process"), res.stdout);
    ok(lines.includes("    health: /health"), res.stdout);
    ok(lines.includes("    idle_timeout: 300s"), res.stdout);
  };

  await t.step("found in a parent directory", async () => {
    expectConfigOutput(
      succeeded(await runTen(["config"], { cwd: `${tmp.path}/a/b` }), "config from a/b"),
    );
  });
  await t.step("--config from an unrelated directory", async () => {
    expectConfigOutput(
      succeeded(
        await runTen(["config", "--config", `${tmp.path}/tenement.toml`], { cwd: elsewhere.path }),
        "config --config",
      ),
    );
  });
  await t.step("TENEMENT_CONFIG from an unrelated directory", async () => {
    expectConfigOutput(
      succeeded(
        await runTen(["config"], {
          cwd: elsewhere.path,
          env: { TENEMENT_CONFIG: `${tmp.path}/tenement.toml` },
        }),
        "config with TENEMENT_CONFIG",
      ),
    );
  });
  await t.step("--config wins over TENEMENT_CONFIG", async () => {
    succeeded(
      await runTen(["--config", `${tmp.path}/tenement.toml`, "config"], {
        cwd: elsewhere.path,
        env: { TENEMENT_CONFIG: `${elsewhere.path}/missing.toml` },
      }),
      "--config over a missing TENEMENT_CONFIG",
    );
  });
  await t.step("none found: No tenement.toml found, exit 1", async () => {
    const res = await runTen(["config"], { cwd: elsewhere.path });
    failedWith(res, 1, "config without a file");
    ok(res.stderr.startsWith("Error: "), res.stderr);
    ok(res.stderr.includes("No tenement.toml found"), res.stderr);
  });
  await t.step("--data-dir overrides data_dir", async () => {
    const res = succeeded(
      await runTen(["config", "--data-dir", `${elsewhere.path}/d`], { cwd: tmp.path }),
      "config --data-dir",
    );
    ok(linesOf(res.stdout).includes(`Data dir: "${elsewhere.path}/d"`), res.stdout);
  });
});

Deno.test("a config with three problems: ten config lists all three, ten serve starts nothing", async (t) => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.path}/tenement.toml`,
    `[settings]
health_check_interval = "fast"
data_dir = "./data"

[service.notes]
command = "${PYTHON} ${FIXTURES}/ok_server.py"
idle_timeout = -1
isolation = "sandbx"

[instances]
notes = ["alice"]
`,
  );
  const expectThree = (res: CliResult, what: string): void => {
    failedWith(res, 1, what);
    ok(res.stderr.startsWith("Error: "), res.stderr);
    for (const at of ["tenement.toml:2:1:", "tenement.toml:7:1:", "tenement.toml:8:1:"]) {
      ok(
        res.stderr.split("\n").some((l) => l.trim().startsWith(at)),
        `${what}: no line starting with ${at}:\n${res.stderr}`,
      );
    }
    ok(res.stderr.includes("health_check_interval"), res.stderr);
    ok(res.stderr.includes("idle_timeout"), res.stderr);
    ok(res.stderr.includes("sandbx"), res.stderr);
  };
  await t.step("ten config", async () => {
    const res = await runTen(["config"], { cwd: tmp.path });
    expectThree(res, "ten config");
    equal(res.stdout, "");
  });
  await t.step("ten serve exits 1 before starting anything", async () => {
    const res = await runServeExpectingExit(
      ["serve", "--port", "0", "--bind", "127.0.0.1"],
      tmp.path,
    );
    equal(res.timedOut, false, "ten serve kept running with a bad config");
    expectThree(res, "ten serve");
    ok(!res.stderr.includes("listening"), res.stderr);
    deepEqual(await listTree(tmp.path), ["tenement.toml"]);
  });
});

// ---------------------------------------------------------------------------------------------
// ten init

Deno.test("ten init writes a tenement.toml that ten config accepts, once", async (t) => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/myapp`;
  await Deno.mkdir(dir);
  await t.step("writes the file and prints the summary", async () => {
    const res = succeeded(await runTen(["init"], { cwd: dir }), "init");
    const lines = linesOf(res.stdout);
    equal(lines[0], "Created tenement.toml");
    equal(lines[1], "");
    equal(lines[2], "  Service: myapp");
    equal(lines[3], "  Command: ./app");
    equal(lines[4], "");
    equal(lines[5], "Next steps:");
    equal(lines.length, 9, res.stdout);
    for (const [i, word] of [[6, "token-gen"], [7, "serve"], [8, "ps"]] as const) {
      ok(lines[i]!.trimStart().startsWith(`${i - 5}.`), lines[i]);
      ok(lines[i]!.includes(`ten ${word}`), lines[i]);
    }
    const text = await Deno.readTextFile(`${dir}/tenement.toml`);
    ok(text.includes("[service.myapp]"), text);
    ok(text.includes('health = "/health"'), text);
    ok(/myapp = \["default"\]/.test(text), text);
  });
  await t.step("ten config accepts the generated file", async () => {
    const res = succeeded(await runTen(["config"], { cwd: dir }), "config after init");
    ok(linesOf(res.stdout).includes("  [myapp]"), res.stdout);
    ok(linesOf(res.stdout).includes("    command: ./app"), res.stdout);
    ok(linesOf(res.stdout).includes("    idle_timeout: 300s"), res.stdout);
  });
  await t.step("a second run fails: already exists", async () => {
    const before = await Deno.readTextFile(`${dir}/tenement.toml`);
    const res = await runTen(["init"], { cwd: dir });
    failedWith(res, 1, "second init");
    ok(res.stderr.startsWith("Error: "), res.stderr);
    ok(res.stderr.includes("already exists"), res.stderr);
    equal(await Deno.readTextFile(`${dir}/tenement.toml`), before);
  });
  await t.step("--name and --command are used; a bad --name fails and writes nothing", async () => {
    const named = `${tmp.path}/named`;
    await Deno.mkdir(named);
    const res = await runTen(["init", "--name", "bad name"], { cwd: named });
    failedWith(res, 1, "init --name 'bad name'");
    ok(res.stderr.includes("Invalid service name 'bad name'"), res.stderr);
    deepEqual(await listTree(named), []);
    const ok2 = succeeded(
      await runTen(["init", "--name", "web-1", "--command", `${PYTHON} app.py`], { cwd: named }),
      "init --name web-1",
    );
    ok(ok2.stdout.includes("  Service: web-1\n"), ok2.stdout);
    ok(ok2.stdout.includes(`  Command: ${PYTHON} app.py\n`), ok2.stdout);
    succeeded(await runTen(["config"], { cwd: named }), "config after init --name");
  });
  await t.step("detects the command from the project files", async () => {
    const py = `${tmp.path}/pyapp`;
    await Deno.mkdir(py);
    await Deno.writeTextFile(`${py}/requirements.txt`, "");
    const res = succeeded(await runTen(["init"], { cwd: py }), "init in a python project");
    ok(res.stdout.includes("  Command: uv run python app.py\n"), res.stdout);
  });
});

// ---------------------------------------------------------------------------------------------
// ten serve: bind failure and SIGTERM

Deno.test("ten serve on a port in use exits 1 with a clear error and leaves no instance", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.path}/tenement.toml`,
    settingsBlock() + okService("notes") + instancesBlock({ notes: ["alice"] }),
  );
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const res = await runServeExpectingExit(
    ["serve", "--port", String(port), "--bind", "127.0.0.1"],
    tmp.path,
  );
  equal(res.timedOut, false, "ten serve kept running on a busy port");
  failedWith(res, 1, "serve on a busy port");
  ok(/^Error: .*address already in use/im.test(res.stderr), res.stderr);
  ok(res.stderr.includes(String(port)), res.stderr);
  const pids = [...loggedPids(res.stderr), ...await startedPids(`${tmp.path}/data`)];
  for (const pid of pids) {
    equal(await isAlive(pid), false, `instance pid ${pid} left running`);
  }
});

Deno.test("a second ten serve on the same data dir and a busy port does not touch the running daemon's instances", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes"),
  });
  const pid = await apiSpawn(d, "notes", "alice");
  const res = await runServeExpectingExit(
    ["serve", "--port", String(d.port), "--bind", "127.0.0.1", "--config", d.configPath],
    d.dir,
  );
  equal(res.timedOut, false, "second ten serve kept running");
  failedWith(res, 1, "second serve");
  ok(/address already in use|already using the data dir/i.test(res.stderr), res.stderr);
  // Processes the second serve started are recorded, so dispose checks their groups too.
  const others = [...loggedPids(res.stderr), ...await startedPids(`${d.dataDir}/notes`)]
    .filter((p) => p !== pid);
  for (const p of others) d.groups.add(p);
  // The first daemon's instance must be neither killed nor replaced.
  const isStillAlive = await isAlive(pid);
  const row = await d.instance("notes:alice"); // records a replacement's group for dispose
  equal(isStillAlive, true, `notes:alice (pid ${pid}) was killed by the second ten serve`);
  equal(row?.pid, pid, `notes:alice was restarted: ${JSON.stringify(row)}`);
  for (const p of loggedPids(res.stderr)) {
    equal(await isAlive(p), false, `the second ten serve left pid ${p} running`);
  }
});

Deno.test("ten serve stops every instance on SIGTERM and exits 0", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes") + instancesBlock({ notes: ["alice", "bob"] }),
  });
  const rows = await d.untilInstances(
    (all) => all.length === 2 && all.every((r) => r.status === "running" && r.pid !== null),
    { what: "both [instances] running" },
  );
  const pids = rows.map((r) => r.pid!);
  const extra = await apiSpawn(d, "notes", "carol");
  equal(await d.stop(), 0);
  for (const pid of [...pids, extra]) {
    equal(await isAlive(pid), false, `pid ${pid} still running after SIGTERM`);
  }
});

// ---------------------------------------------------------------------------------------------
// Built-in TLS: what ten serve refuses before touching anything

Deno.test("ten serve: TLS flags and keys that cannot work exit 1 naming the problem, before creating anything", async (t) => {
  await using tmp = await tempDir();
  const cfg = `${tmp.path}/tenement.toml`;
  await Deno.writeTextFile(cfg, settingsBlock() + okService("notes"));
  const enabledCfg = `${tmp.path}/enabled.toml`;
  await Deno.writeTextFile(
    enabledCfg,
    settingsBlock() + '\n[settings.tls]\nenabled = true\ndomain = "example.com"\n' +
      okService("notes"),
  );
  const cases: [args: string[], first: string][] = [
    [["--email", "ops@example.com"], "Error: --email only apply with TLS: add --tls"],
    [["--staging"], "Error: --staging only apply with TLS: add --tls"],
    [["--tls", "--domain", "example.com"], "Error: TLS enabled but no email provided."],
    [["--tls", "--email", "ops@example.com"], "Error: TLS cannot be used with localhost"],
    [
      ["--tls", "--email", "ops", "--domain", "example.com"],
      'Error: ACME email "ops" must contain exactly one @',
    ],
    [["--config", enabledCfg], "Error: TLS enabled in config but acme_email not set"],
  ];
  for (const [flags, first] of cases) {
    await t.step(flags.join(" "), async () => {
      const res = await runServeExpectingExit(
        ["serve", "--port", "0", "--bind", "127.0.0.1", "--config", cfg, ...flags],
        tmp.path,
      );
      equal(res.timedOut, false, "ten serve kept running");
      failedWith(res, 1, flags.join(" "));
      ok(linesOf(res.stderr)[0]?.startsWith(first), res.stderr);
      const hasDataDir = await Deno.stat(`${tmp.path}/data`).then(() => true, () => false);
      equal(hasDataDir, false, "ten serve created its data dir");
    });
  }
});

Deno.test("config keys that do nothing yet: ten config and ten serve warn with file:line, and still run", async (t) => {
  await using tmp = await tempDir();
  // memory_limit_mb and cpu_shares are enforced now (cgroups): storage_quota_mb is still inert.
  const extra = { storage_quota_mb: 100 };
  const inert = ["storage_quota_mb"];
  await using d = await startDaemon({
    dir: tmp.path,
    config: settingsBlock() + okService("notes", extra),
  });
  const text = await Deno.readTextFile(d.configPath);
  const lineOf = (key: string): number =>
    text.split("\n").findIndex((line) => line.startsWith(`${key} =`)) + 1;
  const shownPath = d.configPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const warningOf = (key: string): RegExp =>
    new RegExp(
      `${shownPath}:${lineOf(key)}:1: "service\\.notes\\.${key}" is set but not enforced yet`,
    );

  await t.step("ten serve logs one warning per key at start-up and serves", async () => {
    for (const key of inert) {
      ok(warningOf(key).test(d.stderr), `no warning for ${key} in:\n${d.stderr}`);
    }
    await apiSpawn(d, "notes", "alice");
  });

  await t.step("ten config prints them on stderr and exits 0", async () => {
    const res = succeeded(
      await runTen(["config", "--config", d.configPath], { cwd: d.dir }),
      "config",
    );
    const warnings = linesOf(res.stderr).filter((line) => line.startsWith("Warning: "));
    equal(warnings.length, inert.length, res.stderr);
    for (const key of inert) {
      ok(warnings.some((line) => warningOf(key).test(line)), `no ${key} in:\n${res.stderr}`);
    }
  });
});

Deno.test("ten deploy with a tenant token fails before printing any progress and starts nothing", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  const tenant = await d.tenantToken("v1");
  const res = await d.ten(["deploy", "notes:v1"], { TENEMENT_TOKEN: tenant });
  failedWith(res, 1, "tenant deploy");
  equal(res.stdout, "");
  equal(res.stderr, "Error: Deploy requires admin token\n");
  equal(await d.instance("notes:v1"), undefined);
  // The admin token deploys the same version (the check did not get in the way).
  const admin = succeeded(await d.ten(["deploy", "notes:v1"]), "admin deploy");
  ok(admin.stdout.startsWith("Deploying notes:v1 with weight 100\n"), admin.stdout);
});
