import { equal, ok, rejects } from "node:assert/strict";
import { SpawnError } from "../core/errors.ts";
import { findTool, ownSocketDir, prepareIsolation } from "./isolation_setup.ts";

Deno.test("prepareIsolation() refuses namespace isolation without root, naming the alternatives", async () => {
  await rejects(
    prepareIsolation({
      isolation: "namespace",
      argv: ["/bin/true"],
      cwd: "/",
      pathVar: undefined,
      daemonUid: 1000,
    }),
    (err: unknown) => {
      ok(err instanceof SpawnError);
      ok(err.message.includes("root"), err.message);
      ok(err.message.includes('isolation = "sandbox"'), err.message);
      ok(err.message.includes('isolation = "process"'), err.message);
      return true;
    },
  );
});

Deno.test("findTool() names the Debian package of a missing wrapper", async () => {
  await rejects(findTool("tenement-no-such-tool", "bubblewrap", "/nonexistent"), /bubblewrap/);
});

Deno.test("ownSocketDir() never hands out a shared directory", () => {
  const base = { dataDir: "/d", instanceDir: "/d/notes/alice" };
  equal(ownSocketDir({ ...base, socketPath: "/d/run/notes.alice/app.sock" }), "/d/run/notes.alice");
  equal(ownSocketDir({ ...base, socketPath: "/d/run/notes.alice.sock" }), undefined);
  equal(ownSocketDir({ ...base, socketPath: "/tmp/notes.alice.sock" }), undefined);
  equal(ownSocketDir({ ...base, socketPath: "/d/app.sock" }), undefined);
  equal(ownSocketDir({ ...base, socketPath: undefined }), undefined);
});

Deno.test('prepareIsolation() refuses network = "none" without a socket directory of its own', async () => {
  await rejects(
    prepareIsolation({
      isolation: "sandbox",
      argv: ["/bin/true"],
      cwd: "/",
      pathVar: undefined,
      dataDir: "/d",
      instanceDir: "/d/notes/alice",
      socketPath: "/d/run/notes.alice.sock",
      network: "none",
    }),
    /directory of its own/,
  );
});
