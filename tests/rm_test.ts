/**
 * Integration tests of `ten rm` (issue 12, "Forgetting instances"): a stopped, failed or asleep
 * instance is forgotten from memory and the store (it stays gone after a daemon restart),
 * `--purge` deletes its data dir and nothing outside it, and a running, unknown or
 * unconfirmed one is refused. Real `ten` runs against a real `ten serve`.
 * @module
 */
import { equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  DENO,
  okService,
  runTen,
  settingsBlock,
  startDaemon,
  succeeded,
  tenArgs,
} from "../testkit/mod.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("ten rm forgets stopped and asleep instances, for good; refuses running and unknown ones", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes") + okService("sleepy", { idle_timeout: 0.5 }),
  });
  await apiSpawn(d, "notes", "alice");
  succeeded(await d.ten(["weight", "notes:alice", "30"]), "weight");

  const running = await d.ten(["rm", "notes:alice"]);
  equal(running.code, 1, running.stdout);
  equal(running.stderr, "Error: notes:alice is running: ten stop notes:alice first\n");
  const unknown = await d.ten(["rm", "notes:nosuch"]);
  equal(unknown.code, 1);
  equal(unknown.stderr, "Error: Instance not found: notes:nosuch\n");
  const tenant = await d.tenantToken("alice");
  succeeded(await d.ten(["stop", "notes:alice"]), "stop");
  const denied = await d.ten(["rm", "notes:alice", "--token", tenant]);
  equal(denied.code, 1);
  equal(denied.stderr, "Error: Removing an instance requires admin token\n");

  const dir = `${d.dataDir}/notes/alice`;
  ok(await exists(dir));
  const rm = succeeded(await d.ten(["rm", "notes:alice"]), "rm");
  equal(rm.stdout, `Forgot notes:alice; its data is kept in ${dir}\n`);
  ok(await exists(dir), "without --purge the data stays");
  equal(await d.instance("notes:alice"), undefined);
  ok(!succeeded(await d.ten(["ps", "--all"]), "ps").stdout.includes("notes:alice"));

  // Asleep counts as not running.
  await apiSpawn(d, "sleepy", "s");
  await d.untilStatus("sleepy:s", "asleep");
  succeeded(await d.ten(["rm", "sleepy:s"]), "rm asleep");
  equal(await d.instance("sleepy:s"), undefined);

  // Forgotten in the store too: a daemon restart does not bring them back.
  equal(await d.stop(), 0, d.stderr);
  await d.start();
  const rows = await d.instances();
  equal(rows.find((r) => r.id === "notes:alice" || r.id === "sleepy:s"), undefined);
  // A new notes:alice starts from nothing: the old weight is gone with it.
  await apiSpawn(d, "notes", "alice");
  equal((await d.instance("notes:alice"))?.weight, 100);
});

Deno.test("ten rm --purge deletes only the instance's data dir, and asks first", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  await apiSpawn(d, "notes", "bob");
  succeeded(await d.ten(["stop", "notes:bob"]), "stop");
  const dir = `${d.dataDir}/notes/bob`;
  const outside = `${d.dir}/outside`;
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${outside}/keep.txt`, "keep");
  await Deno.symlink(outside, `${dir}/link`);
  await Deno.writeTextFile(`${dir}/app.db`, "data");

  const unconfirmed = await d.ten(["rm", "notes:bob", "--purge"]);
  equal(unconfirmed.code, 1, unconfirmed.stdout);
  equal(
    unconfirmed.stderr,
    `Error: Cannot delete ${dir} without confirmation: stdin is not a terminal; pass --yes to delete it\n`,
  );
  ok(await exists(`${dir}/app.db`), "nothing was deleted");
  ok((await d.instance("notes:bob")) !== undefined, "nothing was forgotten");

  const purged = succeeded(await d.ten(["rm", "notes:bob", "--purge", "--yes"]), "rm --purge");
  equal(purged.stdout, `Forgot notes:bob and deleted ${dir}\n`);
  equal(await exists(dir), false);
  equal(await Deno.readTextFile(`${outside}/keep.txt`), "keep", "the symlink was not followed");
  ok(await exists(`${d.dataDir}/notes`), "only the instance's own dir went");
  equal(await d.instance("notes:bob"), undefined);
});

/** Runs `ten args…` against `d` on a pseudo-terminal (`script`), typing `input`. */
async function tenOnTerminal(
  d: { url: string; configPath: string; dir: string },
  args: readonly string[],
  input: string,
): Promise<{ code: number; output: string }> {
  const argv = [DENO, ...tenArgs(), "--server", d.url, "--config", d.configPath, ...args];
  const quoted = argv.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", quoted, "/dev/null"],
    cwd: d.dir,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test({
  name: "ten rm --purge on a terminal asks, and a no changes nothing",
  ignore: !hasScript(),
  fn: async () => {
    await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
    await apiSpawn(d, "notes", "carol");
    succeeded(await d.ten(["stop", "notes:carol"]), "stop");
    const dir = `${d.dataDir}/notes/carol`;

    const no = await tenOnTerminal(d, ["rm", "notes:carol", "--purge"], "n\n");
    equal(no.code, 1, no.output);
    ok(no.output.includes(`Delete ${dir} and everything in it? [y/N]`), no.output);
    ok(no.output.includes("Cancelled: nothing was changed"), no.output);
    ok(await exists(dir));
    ok((await d.instance("notes:carol")) !== undefined);

    const yes = await tenOnTerminal(d, ["rm", "notes:carol", "--purge"], "y\n");
    equal(yes.code, 0, yes.output);
    ok(yes.output.includes(`Forgot notes:carol and deleted ${dir}`), yes.output);
    equal(await exists(dir), false);
  },
});

function hasScript(): boolean {
  try {
    return new Deno.Command("script", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("shell completions offer ten rm with its flags, and ten reload", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const res = succeeded(await runTen(["completions", shell]), `completions ${shell}`);
    for (const word of ["rm", "purge", "yes", "reload"]) {
      ok(new RegExp(`\\b${word}\\b`).test(res.stdout), `${shell}: ${word} missing`);
    }
  }
});
