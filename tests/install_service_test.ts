/**
 * `ten install` / `ten uninstall`: the dry run shows every action and file, the unit passes
 * `systemd-analyze verify`, and the unit's exact ExecStart with its Environment serves tenants.
 * (A real install needs root on a systemd-booted machine; CI has neither systemd as init nor a
 * compiled ten, so the service itself is started here the way systemd would start it.)
 * @module
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  FIXTURES,
  killGroup,
  PYTHON,
  rawRequest,
  ROOT,
  runTen,
  settingsBlock,
  sleep,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

/** A launcher of this checkout's ten, standing in for the compiled binary. */
async function writeLauncher(dir: string): Promise<string> {
  const path = `${dir}/ten`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet --config "${ROOT}/deno.json" "${ROOT}/main.ts" "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** The file printed after `--- PATH` in a dry run. */
function printedFile(stdout: string, path: string): string {
  const start = stdout.indexOf(`--- ${path}\n`);
  ok(start >= 0, `the dry run prints ${path}`);
  const body = stdout.slice(start + path.length + 5);
  const end = body.indexOf("\n--- ");
  return end < 0 ? body : body.slice(0, end + 1);
}

/** Splits an ExecStart value the way systemd does for plain and double-quoted words. */
function execWords(value: string): string[] {
  const words: string[] = [];
  for (const m of value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!).replaceAll("%%", "%"));
  }
  return words;
}

function unitValues(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!);
}

Deno.test("ten install --dry-run: numbered actions, the unit and a starter config; nothing written", async () => {
  await using tmp = await tempDir();
  const result = await runTen(
    ["install", "--domain", "Apps.Example.com", "--dry-run", "--data-dir", `${tmp.path}/data`],
    { cwd: tmp.path },
  );
  equal(result.code, 0, result.stderr);
  const lines = result.stdout.split("\n");
  deepEqual(lines.slice(0, 8), [
    "Dry run: nothing is changed. ten would:",
    "  1. create /etc/tenement (mode 755)",
    "  2. write /etc/tenement/tenement.toml (mode 644)",
    `  3. create ${tmp.path}/data (mode 700)`,
    "  4. write /etc/systemd/system/tenement.service (mode 644)",
    "  5. run systemctl daemon-reload",
    "  6. run systemctl enable tenement",
    "  7. run systemctl restart tenement",
  ]);
  const unit = printedFile(result.stdout, "/etc/systemd/system/tenement.service");
  deepEqual(unitValues(unit, "ExecStart"), [
    "/usr/local/bin/ten serve --port 80 --domain apps.example.com",
  ]);
  deepEqual(unitValues(unit, "Environment"), [
    "TENEMENT_CONFIG=/etc/tenement/tenement.toml",
    `TENEMENT_DATA_DIR=${tmp.path}/data`,
    "TENEMENT_LOG=info",
  ]);
  deepEqual(unitValues(unit, "KillMode"), ["mixed"]);
  deepEqual(unitValues(unit, "Restart"), ["on-failure"]);
  deepEqual(unitValues(unit, "ReadWritePaths"), [`${tmp.path}/data`]);
  const starter = printedFile(result.stdout, "/etc/tenement/tenement.toml");
  match(starter, /alice\.notes\.apps\.example\.com/);
  // Instances get users of their own, and the example app lives where such a user can reach it.
  match(starter, /^default_user = "auto"$/m);
  match(starter, /^# workdir = "\/srv\/notes"$/m);
  match(starter, /^# command = "\/usr\/bin\/python3 app\.py"$/m);
  await Deno.stat(`${tmp.path}/data`).then(
    () => ok(false, "dry run created the data dir"),
    () => {},
  );
});

Deno.test("ten install --email: the starter config turns on built-in TLS; an existing config gets --tls flags", async (t) => {
  await using tmp = await tempDir();
  await t.step(
    "starter config: [settings.tls] with the email, domain and hook; local plain port",
    async () => {
      const hook = `${tmp.path}/dns-hook`;
      const result = await runTen(
        [
          "install",
          "--domain",
          "apps.example.com",
          "--email",
          "ops@example.com",
          "--dns-hook",
          hook,
          "--dry-run",
          "--data-dir",
          `${tmp.path}/data`,
        ],
        { cwd: tmp.path },
      );
      equal(result.code, 0, result.stderr);
      const unit = printedFile(result.stdout, "/etc/systemd/system/tenement.service");
      deepEqual(unitValues(unit, "ExecStart"), [
        "/usr/local/bin/ten serve --port 8080 --domain apps.example.com",
      ]);
      const starter = printedFile(result.stdout, "/etc/tenement/tenement.toml");
      ok(
        starter.includes(
          `[settings.tls]\nenabled = true\nacme_email = "ops@example.com"\ndomain = "apps.example.com"\n`,
        ),
        starter,
      );
      ok(starter.includes(`dns_hook = "${hook}"`), starter);
      match(starter, /https:\/\/alice\.notes\.apps\.example\.com/);
      // The starter config is one ten serve accepts.
      const cfg = `${tmp.path}/starter.toml`;
      await Deno.writeTextFile(cfg, starter);
      const check = await runTen(["--config", cfg, "config"], { cwd: tmp.path });
      equal(check.code, 0, check.stderr);
    },
  );
  await t.step(
    "an existing config without [settings.tls]: ExecStart carries --tls --email",
    async () => {
      await Deno.writeTextFile(`${tmp.path}/tenement.toml`, "[settings]\n");
      const result = await runTen(
        ["install", "--domain", "apps.example.com", "--email", "ops@example.com", "--dry-run"],
        { cwd: tmp.path },
      );
      equal(result.code, 0, result.stderr);
      const unit = printedFile(result.stdout, "/etc/systemd/system/tenement.service");
      deepEqual(unitValues(unit, "ExecStart"), [
        "/usr/local/bin/ten serve --port 8080 --domain apps.example.com --tls --email ops@example.com",
      ]);
      const hook = await runTen(
        [
          "install",
          "--domain",
          "apps.example.com",
          "--email",
          "ops@example.com",
          "--dns-hook",
          "/h",
          "--dry-run",
        ],
        { cwd: tmp.path },
      );
      equal(hook.code, 1);
      match(hook.stderr, /set dns_hook = "\/h" in its \[settings\.tls\] instead/);
      await Deno.remove(`${tmp.path}/tenement.toml`);
    },
  );
  await t.step("bad TLS input is refused", async () => {
    const cases: [string[], RegExp][] = [
      [["--domain", "example.com", "--dns-hook", "/h"], /--dns-hook is for built-in TLS/],
      [["--domain", "example.com", "--email", "ops"], /exactly one @/],
      [["--domain", "localhost", "--email", "ops@example.com"], /cannot be used with localhost/],
    ];
    for (const [args, expected] of cases) {
      const res = await runTen(["install", ...args, "--dry-run"], { cwd: tmp.path });
      equal(res.code, 1, args.join(" "));
      match(res.stderr, expected);
    }
  });
});

Deno.test("ten install: the unit passes systemd-analyze verify and its ExecStart + Environment serve a tenant", async (t) => {
  await using tmp = await tempDir();
  const bin = await writeLauncher(tmp.path);
  const config = `${tmp.path}/tenement.toml`;
  await Deno.writeTextFile(
    config,
    `${settingsBlock()}
[service.web]
command = "${PYTHON} ${FIXTURES}/ok_server.py"
health = "/health"
stop_grace_period = 40
env = { DATA_DIR = "{data_dir}/{name}/{id}" }

[instances]
web = ["alice"]
`,
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const dataDir = `${tmp.path}/var lib/tenement`;
  const result = await runTen([
    "--config",
    config,
    "--data-dir",
    dataDir,
    "install",
    "--domain",
    "example.test",
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--bin",
    bin,
    "--dry-run",
  ], { cwd: tmp.path });
  equal(result.code, 0, result.stderr);
  ok(
    !result.stdout.includes("/etc/tenement/tenement.toml"),
    "an existing config is used, not replaced",
  );
  const unit = printedFile(result.stdout, "/etc/systemd/system/tenement.service");
  // Covers the longest stop_grace_period (40 s) plus a margin.
  deepEqual(unitValues(unit, "TimeoutStopSec"), ["55"]);
  deepEqual(unitValues(unit, "WorkingDirectory"), [dataDir]);

  await t.step("systemd-analyze verify accepts it", async () => {
    const analyze = await new Deno.Command("sh", { args: ["-c", "command -v systemd-analyze"] })
      .output();
    if (analyze.code !== 0) return; // Not installed here: nothing to verify with.
    await Deno.writeTextFile(`${tmp.path}/tenement.service`, unit);
    const verify = await new Deno.Command("systemd-analyze", {
      args: ["verify", `${tmp.path}/tenement.service`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const messages = new TextDecoder().decode(verify.stderr).split("\n")
      .filter((line) => line.includes("tenement.service"));
    deepEqual(messages, []);
    equal(verify.code, 0, new TextDecoder().decode(verify.stderr));
  });

  await t.step("the service started as systemd would serves alice.web", async () => {
    const argv = execWords(unitValues(unit, "ExecStart")[0]!);
    equal(argv[0], bin);
    const env: Record<string, string> = {};
    for (const value of unitValues(unit, "Environment")) {
      const [name, ...rest] = execWords(value)[0]!.split("=");
      env[name!] = rest.join("=");
    }
    equal(env["TENEMENT_CONFIG"], config);
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const daemon = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      cwd: unitValues(unit, "WorkingDirectory")[0]!,
      // systemd passes only the unit's Environment (and a PATH); HOME lets deno find its cache.
      clearEnv: true,
      env: {
        ...env,
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/",
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      detached: true,
    }).spawn();
    let instancePid: number | undefined;
    let hasExited = false;
    void daemon.status.then(() => hasExited = true);
    try {
      const response = await waitFor(async () => {
        const r = await rawRequest(port, "alice.web.example.test", "/who");
        return r.status === 200 ? r : undefined;
      }, { timeoutMs: 20_000, what: "alice.web.example.test to answer" });
      const body = JSON.parse(response.body) as { path: string; data_dir: string; pid: number };
      instancePid = body.pid;
      equal(body.path, "/who");
      ok(body.data_dir.startsWith(`${dataDir}/web/alice`), body.data_dir);
      // The daemon's own graceful stop on systemd's SIGTERM (KillMode=mixed signals it alone).
      Deno.kill(daemon.pid, "SIGTERM");
      const status = await daemon.status;
      equal(status.code, 0);
    } finally {
      // On a failure too: the daemon's own stop ends its instances (each in its own group).
      if (!hasExited) {
        Deno.kill(daemon.pid, "SIGTERM");
        await Promise.race([daemon.status, sleep(15_000)]);
      }
      killGroup(daemon.pid);
      if (instancePid !== undefined) killGroup(instancePid);
      await daemon.stderr.cancel().catch(() => {});
    }
  });
});

Deno.test("ten install: bad input is refused before anything is written", async () => {
  await using tmp = await tempDir();
  const bad = await runTen(["install", "--domain", "not a domain", "--dry-run"], { cwd: tmp.path });
  equal(bad.code, 1);
  match(bad.stderr, /Invalid --domain 'not a domain'/);
  const port = await runTen(
    ["install", "--domain", "example.com", "--port", "99999", "--dry-run"],
    {
      cwd: tmp.path,
    },
  );
  equal(port.code, 1);
  match(port.stderr, /Invalid --port '99999'/);
  await Deno.writeTextFile(
    `${tmp.path}/tenement.toml`,
    '[settings]\nhealth_check_interval = "x"\n',
  );
  const config = await runTen(["install", "--domain", "example.com", "--dry-run"], {
    cwd: tmp.path,
  });
  equal(config.code, 1);
  match(config.stderr, /tenement\.toml:2:\d+/);
  await Deno.writeTextFile(`${tmp.path}/tenement.toml`, "[settings]\n");
  // From a checkout (ten runs under deno) a real install has no binary to point the unit at.
  const checkout = await runTen(["install", "--domain", "example.com"], { cwd: tmp.path });
  equal(checkout.code, 1);
  match(checkout.stderr, /runs from a checkout under deno/);
  const missing = await runTen([
    "--config",
    `${tmp.path}/nope.toml`,
    "install",
    "--domain",
    "a.b",
    "--dry-run",
  ]);
  equal(missing.code, 1);
  match(missing.stderr, /Config file not found: .*nope\.toml/);
});

Deno.test("ten uninstall --dry-run: keeps the data unless --purge", async () => {
  const keep = await runTen(["uninstall", "--dry-run"]);
  equal(keep.code, 0, keep.stderr);
  deepEqual(keep.stdout.trim().split("\n"), [
    "Dry run: nothing is changed. ten would:",
    "  1. run systemctl disable --now tenement",
    "  2. remove /etc/systemd/system/tenement.service",
    "  3. run systemctl daemon-reload",
  ]);
  const purge = await runTen(["uninstall", "--purge", "--dry-run"]);
  equal(purge.code, 0, purge.stderr);
  deepEqual(purge.stdout.trim().split("\n").slice(4), [
    "  4. remove /etc/tenement",
    "  5. remove /var/lib/tenement",
  ]);
});
