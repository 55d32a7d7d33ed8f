/**
 * Integration tests of the CLI's rough edges (issue 12): `ten logs` of unknown or forbidden
 * instances, a closed stdout, auth errors naming the server, `ten health` of resting instances,
 * `ten spawn --help`, the `ps` column widths and `ten completions`. Real `ten` runs against a
 * real `ten serve`.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  type CliResult,
  DENO,
  fixtureCommand,
  okService,
  runTen,
  settingsBlock,
  startDaemon,
  succeeded,
  tempDir,
  tenArgs,
  waitFor,
} from "../testkit/mod.ts";
import type { Daemon } from "../testkit/mod.ts";

/** `ten args…` against `d`, killed after `timeoutMs` so a command that never ends fails. */
function tenWithin(d: Daemon, args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return runTen(["--server", d.url, "--config", d.configPath, ...args], {
    cwd: d.dir,
    signal: AbortSignal.timeout(timeoutMs),
  });
}

Deno.test("ten logs, health, ps and auth errors of one daemon", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes") + okService("sleepy", { idle_timeout: 0.5 }),
  });
  await apiSpawn(d, "notes", "alice");
  await apiSpawn(d, "notes", "bob");
  await d.stopInstance("notes", "bob");

  await t.step("ten logs of an unknown instance or service fails naming it", async () => {
    for (const follow of [[], ["-f"]]) {
      const instance = await tenWithin(d, ["logs", ...follow, "notes:nosuch"]);
      equal(instance.code, 1, `logs ${follow} notes:nosuch: ${instance.stderr}`);
      equal(instance.stderr, "Error: Instance not found: notes:nosuch\n");
      equal(instance.stdout, "");
      const service = await tenWithin(d, ["logs", ...follow, "nosvc:x"]);
      equal(service.code, 1, `logs ${follow} nosvc:x: ${service.stderr}`);
      equal(service.stderr, 'Error: Unknown service "nosvc": it is not defined in the config\n');
    }
  });

  await t.step("ten logs of a stopped instance still prints its lines", async () => {
    const res = succeeded(await d.ten(["logs", "notes:bob"]), "logs notes:bob");
    ok(res.stdout.includes("[OUT] notes:bob "), res.stdout);
  });

  await t.step("a tenant token reading another tenant's logs: 403 and exit 1", async () => {
    const alice = await d.tenantToken("alice");
    const api = await d.apiAs(alice, "GET", "/api/logs?process=notes&id=bob");
    equal(api.status, 403, api.body);
    const res = await tenWithin(d, ["logs", "notes:bob", "--token", alice]);
    equal(res.code, 1, res.stderr);
    equal(res.stderr, "Error: Tenant token can only access instance 'alice'\n");
    equal(res.stdout, "");
    const own = succeeded(await d.ten(["logs", "notes:alice", "--token", alice]), "own logs");
    ok(own.stdout.includes("[OUT] notes:alice "), own.stdout);
  });

  await t.step("an invalid token error names the server", async () => {
    const res = await d.ten(["ps", "--token", "not-a-valid-token-0123"]);
    equal(res.code, 1, res.stderr);
    equal(res.stderr, `Error: Invalid token for ${d.url}\n`);
  });

  await t.step("ten health says asleep and stopped for instances without a process", async () => {
    await apiSpawn(d, "sleepy", "c");
    await d.untilStatus("sleepy:c", "asleep");
    equal(succeeded(await d.ten(["health", "sleepy:c"]), "health").stdout, "sleepy:c: asleep\n");
    equal(succeeded(await d.ten(["health", "notes:bob"]), "health").stdout, "notes:bob: stopped\n");
    const json = JSON.parse(
      succeeded(await d.ten(["health", "sleepy:c", "--json"]), "json").stdout,
    );
    deepEqual(json, {
      instance: "sleepy:c",
      health: "unknown",
      status: "asleep",
      reason: json.reason,
    });
  });

  await t.step("ten spawn --help shows the --id form, and it works", async () => {
    const help = succeeded(await runTen(["spawn", "--help"]), "spawn --help");
    ok(
      help.stdout.includes("Usage: ten spawn [options] <service:id> | <service> --id <id>"),
      help.stdout,
    );
    ok(/^\s+--id <id>\s+\S/m.test(help.stdout), help.stdout);
    const res = succeeded(await d.ten(["spawn", "notes", "--id", "carol"]), "spawn --id");
    ok(res.stdout.startsWith("Spawned notes:carol\n"), res.stdout);
  });

  await t.step("the ps table stays aligned for a long id and weights 0 and 100", async () => {
    const long = "notes:a-tenant-id-much-longer-than-twenty";
    await apiSpawn(d, "notes", long.slice("notes:".length));
    succeeded(await d.ten(["weight", "notes:alice", "0"]), "weight 0");
    const lines = succeeded(await d.ten(["ps"]), "ps").stdout.split("\n");
    const header = lines[0]!;
    const names = ["INSTANCE", "LISTEN", "UPTIME", "IDLE", "HEALTH", "WEIGHT"];
    const starts = names.map((name) => header.indexOf(name));
    const rows = lines.slice(1, lines.indexOf(""));
    deepEqual(rows.map((row) => row.slice(0, starts[1]).trim()), [
      "notes:a-tenant-id-much-longer-than-twenty",
      "notes:alice",
      "notes:carol",
    ]);
    for (const row of rows) {
      const cells = starts.map((start, i) => {
        equal(
          i === 0 || row[start - 1] === " ",
          true,
          `no gap before ${names[i]}:\n${header}\n${row}`,
        );
        return row.slice(start, starts[i + 1] ?? row.length).trim();
      });
      ok(/^127\.0\.0\.1:\d+$/.test(cells[1]!), `LISTEN column:\n${header}\n${row}`);
      ok(
        /^\d+[smhd]$/.test(cells[2]!) && /^\d+[smhd]$/.test(cells[3]!),
        `times:\n${header}\n${row}`,
      );
      ok(/^(?:0|100)$/.test(cells[5]!), `WEIGHT column:\n${header}\n${row}`);
    }
  });
});

Deno.test("a closed stdout ends ten logs, history, ps and --help quietly with exit 0", async (t) => {
  const x = "x".repeat(200);
  const chatty = `sh -c 'i=0; while [ $i -lt 2000 ]; do echo "line $i ${x}"; i=$((i+1)); done; ` +
    `exec ${fixtureCommand("ok_server.py")}'`;
  await using d = await startDaemon({
    config: settingsBlock() + okService("chatty", { command: chatty }),
  });
  await apiSpawn(d, "chatty", "a");
  // 2000 lines of ~230 bytes: far more than a pipe holds, so ten is still writing when head exits.
  await waitFor(async () => {
    const res = await d.api("GET", "/api/logs?process=chatty&id=a&limit=5000");
    return (JSON.parse(res.body) as unknown[]).length >= 2000;
  }, { timeoutMs: 20_000 });
  const ten = [DENO, ...tenArgs(), "--server", d.url, "--config", d.configPath];

  await t.step("ten logs | head -1", async () => {
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        '"$@" | head -1; exit "${PIPESTATUS[0]}"',
        "_",
        ...ten,
        "logs",
        "--level",
        "stdout",
        "--limit",
        "5000",
      ],
      cwd: d.dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const dec = new TextDecoder();
    equal(dec.decode(out.stderr), "");
    equal(out.code, 0);
    ok(
      /^\d\d:\d\d:\d\d \[OUT\] chatty:a line \d+ x+\n$/.test(dec.decode(out.stdout)),
      dec.decode(out.stdout),
    );
  });

  for (const args of [["logs"], ["history"], ["ps"], ["--help"]]) {
    await t.step(`ten ${args.join(" ")} with stdout closed before it writes`, async () => {
      const child = new Deno.Command(ten[0]!, {
        args: [...ten.slice(1), ...args],
        cwd: d.dir,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).spawn();
      await child.stdout.cancel();
      const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
      equal(stderr, "");
      equal(status.code, 0);
    });
  }
});

Deno.test("ten completions prints bash, zsh and fish scripts naming every verb", async (t) => {
  const help = succeeded(await runTen(["--help"]), "--help").stdout;
  const verbs = help.slice(help.indexOf("Commands:")).split("\n").slice(1)
    .map((line) => /^ {2}([a-z-]+)/.exec(line)?.[1])
    .filter((verb): verb is string => verb !== undefined);
  ok(verbs.includes("spawn") && verbs.includes("completions") && verbs.length > 15, help);
  await using tmp = await tempDir();

  for (const shell of ["bash", "zsh", "fish"]) {
    await t.step(`${shell}: names every verb, and ${shell} -n accepts it`, async () => {
      const script = succeeded(await runTen(["completions", shell]), `completions ${shell}`).stdout;
      ok(script.trim().length > 0);
      for (const verb of verbs) ok(new RegExp(`\\b${verb}\\b`).test(script), `${verb} missing`);
      const file = `${tmp.path}/ten.${shell}`;
      await Deno.writeTextFile(file, script);
      const which = await new Deno.Command("sh", {
        args: ["-c", `command -v ${shell}`],
        stdout: "null",
      }).output();
      if (!which.success) return; // not installed here: the syntax check is skipped
      const check = await new Deno.Command(shell, { args: ["-n", file], stderr: "piped" }).output();
      equal(check.code, 0, new TextDecoder().decode(check.stderr));
    });
  }

  await t.step("bash: the function completes verbs, flags and their values", async () => {
    const file = `${tmp.path}/ten.bash`;
    const complete = async (...words: string[]): Promise<string[]> => {
      const script =
        `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1));` +
        ` _ten; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const out = await new Deno.Command("bash", {
        args: ["-c", script, "_", file, "ten", ...words],
        stdout: "piped",
        stderr: "piped",
      }).output();
      equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout).split("\n").filter((w) => w !== "");
    };
    deepEqual(await complete("sp"), ["spawn"]);
    deepEqual(await complete("--server", "http://x", "st"), ["stop"]);
    deepEqual(await complete("logs", "--le"), ["--level"]);
    deepEqual(await complete("logs", "--level", ""), [], "a flag's value is not a flag");
    deepEqual(await complete("--config", ""), [], "paths come from bash's own completion");
    deepEqual(await complete("completions", ""), ["bash", "zsh", "fish"]);
    ok((await complete("spawn", "--")).includes("--id"));
    ok((await complete("ps", "--")).includes("--server"), "global flags after the verb");
    ok((await complete("help", "")).includes("deploy"));
  });

  await t.step("an unknown shell exits 2 naming the shells", async () => {
    const res = await runTen(["completions", "tcsh"]);
    equal(res.code, 2, res.stderr);
    ok(res.stderr.includes("tcsh") && /bash, zsh, fish/.test(res.stderr), res.stderr);
    equal(res.stdout, "");
  });
});

Deno.test("ids are case-insensitive: notes:Bob and notes:bob are one instance everywhere", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  succeeded(await d.ten(["spawn", "notes:Bob"]), "spawn notes:Bob");
  const again = succeeded(await d.ten(["spawn", "notes:bob"]), "spawn notes:bob");
  ok(again.stdout.includes("is already running"), again.stdout);
  const rows = JSON.parse(succeeded(await d.ten(["ps", "--all", "--json"]), "ps").stdout) as {
    id: string;
  }[];
  deepEqual(rows.map((row) => row.id), ["notes:Bob"]);
  for (const host of ["bob.notes.localhost", "BOB.notes.localhost"]) {
    const res = await d.request(host, "/where");
    equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { data_dir: string };
    ok(body.data_dir.endsWith("/notes/Bob"), `${host}: ${body.data_dir}`);
  }
  const logs = succeeded(await d.ten(["logs", "notes:BOB"]), "logs notes:BOB");
  ok(logs.stdout.includes("[OUT] notes:Bob "), logs.stdout);
  succeeded(await d.ten(["stop", "notes:bob"]), "stop notes:bob");
  equal((await d.instance("notes:Bob"))?.status, "stopped");
});
