import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ConfigErrors, InvalidInputError, NotFoundError } from "../core/errors.ts";
import { findConfigPath, loadConfig } from "./load_config.ts";

const CONFIG = '[settings]\ndata_dir = "./data"\n[service.app]\ncommand = "./app"\n';

/** A temp dir holding `files` (relative path → content), removed on dispose. */
async function tempTree(
  files: Record<string, string>,
): Promise<{ path: string } & AsyncDisposable> {
  // realPath: on some systems the temp dir is behind a symlink.
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix: "tenement_config_" }));
  for (const [name, content] of Object.entries(files)) {
    const file = `${path}/${name}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, content);
  }
  await Deno.mkdir(`${path}/project/a/b`, { recursive: true });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

Deno.test("findConfigPath() finds tenement.toml in the cwd or the nearest parent", async () => {
  await using tmp = await tempTree({
    "tenement.toml": CONFIG,
    "project/tenement.toml": CONFIG,
  });
  const env = {};
  equal(
    await findConfigPath({ env, cwd: `${tmp.path}/project` }),
    `${tmp.path}/project/tenement.toml`,
  );
  equal(
    await findConfigPath({ env, cwd: `${tmp.path}/project/a/b` }),
    `${tmp.path}/project/tenement.toml`,
  );
  equal(await findConfigPath({ env, cwd: tmp.path }), `${tmp.path}/tenement.toml`);
});

Deno.test("findConfigPath() prefers --config, then TENEMENT_CONFIG", async () => {
  await using tmp = await tempTree({
    "tenement.toml": CONFIG,
    "one.toml": CONFIG,
    "two.toml": CONFIG,
  });
  const cwd = tmp.path;
  const env = { TENEMENT_CONFIG: `${tmp.path}/two.toml` };
  equal(await findConfigPath({ explicit: "one.toml", env, cwd }), `${tmp.path}/one.toml`);
  equal(await findConfigPath({ env, cwd }), `${tmp.path}/two.toml`);
  equal(await findConfigPath({ env: { TENEMENT_CONFIG: "" }, cwd }), `${tmp.path}/tenement.toml`);
});

Deno.test("findConfigPath() fails when a named file does not exist", async () => {
  await using tmp = await tempTree({ "tenement.toml": CONFIG });
  await rejects(
    findConfigPath({ explicit: "missing.toml", env: {}, cwd: tmp.path }),
    (error: unknown) => {
      ok(error instanceof NotFoundError);
      equal(error.message, "Config file not found: missing.toml");
      return true;
    },
  );
  await rejects(
    findConfigPath({ env: { TENEMENT_CONFIG: "/nope/tenement.toml" }, cwd: tmp.path }),
    { message: "Config file not found: /nope/tenement.toml (from TENEMENT_CONFIG)" },
  );
  // A directory is not a config file.
  await rejects(findConfigPath({ explicit: "project", env: {}, cwd: tmp.path }), NotFoundError);
});

Deno.test("findConfigPath() explains how to create a config when none is found", async () => {
  await using tmp = await tempTree({});
  const cwd = `${tmp.path}/project/a`;
  await rejects(findConfigPath({ env: {}, cwd }), (error: unknown) => {
    ok(error instanceof NotFoundError);
    ok(
      error.message.startsWith(
        `No tenement.toml found in ${cwd} or any parent directory. Create one with:\n`,
      ),
      error.message,
    );
    ok(error.message.includes("[service.app]"));
    ok(error.message.includes("ten init"));
    return true;
  });
});

Deno.test("loadConfig() reads, parses and resolves against the file's directory", async () => {
  await using tmp = await tempTree({ "project/tenement.toml": CONFIG });
  const config = await loadConfig({ env: {}, cwd: `${tmp.path}/project/a/b` });
  equal(config.path, `${tmp.path}/project/tenement.toml`);
  equal(config.dir, `${tmp.path}/project`);
  equal(config.settings.dataDir, `${tmp.path}/project/data`);
  deepEqual([...config.services.keys()], ["app"]);
});

Deno.test("loadConfig() takes the data dir from --data-dir, then TENEMENT_DATA_DIR", async () => {
  await using tmp = await tempTree({ "tenement.toml": CONFIG });
  const cwd = `${tmp.path}/project`;
  const env = { TENEMENT_DATA_DIR: "/from/env" };
  equal(
    (await loadConfig({ env, cwd, explicit: "../tenement.toml" })).settings.dataDir,
    "/from/env",
  );
  const flagged = await loadConfig({ env, cwd, explicit: "../tenement.toml", dataDir: "rel" });
  equal(flagged.settings.dataDir, `${cwd}/rel`);
  await rejects(
    loadConfig({ env: { TENEMENT_DATA_DIR: "~/x" }, cwd }),
    (error: unknown) => {
      ok(error instanceof InvalidInputError);
      equal(
        error.message,
        'TENEMENT_DATA_DIR is "~/x": tilde is not expanded, use an absolute path',
      );
      return true;
    },
  );
});

Deno.test("loadConfig() reports problems with the path relative to the cwd", async () => {
  await using tmp = await tempTree({ "tenement.toml": "[service.app]\ncomand = 'x'\n" });
  await rejects(loadConfig({ env: {}, cwd: `${tmp.path}/project/a` }), (error: unknown) => {
    ok(error instanceof ConfigErrors);
    equal(
      error.message,
      '../../tenement.toml:2:1: unknown key "comand" in [service.app] (did you mean "command"?)',
    );
    return true;
  });
  await rejects(loadConfig({ env: {}, cwd: tmp.path }), {
    message: 'tenement.toml:2:1: unknown key "comand" in [service.app] (did you mean "command"?)',
  });
});
