import { equal, ok } from "node:assert/strict";
import { readRidOf, ridRead } from "./socket_io.ts";

Deno.test("readRidOf finds the resource id of TCP and Unix connections", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  ]);
  const dir = await Deno.makeTempDir();
  try {
    const rid = readRidOf(a);
    ok(rid >= 0);
    await b.write(new TextEncoder().encode("ping"));
    const buf = new Uint8Array(8);
    equal(await ridRead(rid, buf), 4);
    b.closeWrite();
    equal(await ridRead(rid, buf), 0, "0 at the end of the stream");

    using unixListener = Deno.listen({ transport: "unix", path: `${dir}/s.sock` });
    const [u, v] = await Promise.all([
      unixListener.accept(),
      Deno.connect({ transport: "unix", path: `${dir}/s.sock` }),
    ]);
    ok(readRidOf(u) >= 0);
    ok(readRidOf(v) !== readRidOf(u));
    u.close();
    v.close();
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TENEMENT_PLAIN_SOCKET_READS=1 turns reads by resource id off", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { readsByRid } from "${new URL("./socket_io.ts", import.meta.url).href}";` +
      "console.log(JSON.stringify(readsByRid));",
    ],
    env: { TENEMENT_PLAIN_SOCKET_READS: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(new TextDecoder().decode(out.stderr), "");
  equal(new TextDecoder().decode(out.stdout).trim(), "false");
});
