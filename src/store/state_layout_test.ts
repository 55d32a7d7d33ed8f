import { deepEqual, equal, rejects } from "node:assert/strict";
import { ensureStateDir, migrateStateLayout } from "./state_layout.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("migrateStateLayout() moves the earlier layout into .tenement/ and overwrites nothing", async () => {
  await withDir(async (dataDir) => {
    const paths = await ensureStateDir(dataDir);
    equal(((await Deno.stat(paths.dir)).mode ?? 0) & 0o777, 0o700);
    await Deno.writeTextFile(`${dataDir}/tenement.kv`, "kv");
    await Deno.writeTextFile(`${dataDir}/tenement.kv-wal`, "wal");
    await Deno.writeTextFile(`${dataDir}/api_token`, "old token");
    await Deno.writeTextFile(paths.apiToken, "new token");
    await Deno.mkdir(`${dataDir}/acme`);
    await Deno.mkdir(`${dataDir}/run`);
    await Deno.writeTextFile(`${dataDir}/run/api.sock`, "");
    const moved = await migrateStateLayout(dataDir, { acmeCacheDir: paths.acmeDir });
    deepEqual(moved, [`${dataDir}/tenement.kv`, `${dataDir}/tenement.kv-wal`, `${dataDir}/acme`]);
    equal(await Deno.readTextFile(paths.stateFile), "kv");
    equal(await Deno.readTextFile(`${paths.stateFile}-wal`), "wal");
    // Present in both places: both kept, the private one used.
    equal(await Deno.readTextFile(paths.apiToken), "new token");
    equal(await Deno.readTextFile(`${dataDir}/api_token`), "old token");
    await rejects(Deno.stat(`${dataDir}/run/api.sock`), Deno.errors.NotFound);
    deepEqual(await migrateStateLayout(dataDir), []);
  });
});

Deno.test("migrateStateLayout() leaves an explicitly configured {data_dir}/acme in place", async () => {
  await withDir(async (dataDir) => {
    await ensureStateDir(dataDir);
    await Deno.mkdir(`${dataDir}/acme`);
    deepEqual(await migrateStateLayout(dataDir, { acmeCacheDir: `${dataDir}/acme` }), []);
    equal((await Deno.stat(`${dataDir}/acme`)).isDirectory, true);
  });
});

Deno.test("migrateStateLayout() refuses while a daemon of the earlier layout holds its lock", async () => {
  await withDir(async (dataDir) => {
    await ensureStateDir(dataDir);
    using lock = await Deno.open(`${dataDir}/ten.lock`, { create: true, write: true });
    await lock.lock(true);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { migrateStateLayout } from "${new URL("./state_layout.ts", import.meta.url)}";
         await migrateStateLayout(${
          JSON.stringify(dataDir)
        }).then(() => Deno.exit(0), (e) => { console.error(e.message); Deno.exit(3); });`,
      ],
      stdout: "null",
      stderr: "piped",
    });
    const out = await child.output();
    equal(out.code, 3, new TextDecoder().decode(out.stderr));
  });
});
