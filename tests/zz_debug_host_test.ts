import { FIXTURES, PYTHON, settingsBlock, startDaemon, tempDir } from "./helpers/daemon.ts";
Deno.test("dbg", async () => {
  await using tmp = await tempDir();
  await using d = await startDaemon({ dir: tmp.path, config: settingsBlock() + `
[service.app]
command = "${PYTHON} ${FIXTURES}/ok_server.py"
health = "/health"
` });
  const r = await d.request("alice.app.localhost", "/");
  console.log(r.status, r.body);
  const r2 = await fetch(`${d.url}/x`, { headers: { host: "alice.app.localhost" } });
  console.log(r2.status, await r2.text());
});
