import { equal, ok, rejects } from "node:assert/strict";
import { SpawnError } from "../core/errors.ts";
import { ownSocketDir, prepareIsolation } from "./isolation_setup.ts";
import { findSystemTool } from "./system_tool.ts";

Deno.test("prepareIsolation() refuses namespace isolation without root, naming the alternatives", async () => {
  await rejects(
    prepareIsolation({
      isolation: "namespace",
      argv: ["/bin/true"],
      cwd: "/",
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

Deno.test("findSystemTool() names the Debian package of a missing wrapper", async () => {
  await rejects(findSystemTool("tenement-no-such-tool", "bubblewrap"), /apt install bubblewrap/);
});

Deno.test("prepareIsolation() finds the wrappers by absolute path in the system dirs", async () => {
  const plan = await prepareIsolation({ isolation: "sandbox", argv: ["/bin/true"], cwd: "/" });
  ok(plan.wrapperPath?.startsWith("/") && plan.wrapperPath.endsWith("/bwrap"), plan.wrapperPath);
  const none = await prepareIsolation({ isolation: "process", argv: ["/bin/true"], cwd: "/" });
  equal(none.wrapperPath, undefined);
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
      dataDir: "/d",
      instanceDir: "/d/notes/alice",
      socketPath: "/d/run/notes.alice.sock",
      network: "none",
    }),
    /directory of its own/,
  );
});
