import { deepEqual } from "node:assert/strict";
import { parseTcpListeners } from "./tcp_listeners.ts";

const HEADER =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

Deno.test("parseTcpListeners() reads IPv6 listeners and skips connections and junk", () => {
  const text = HEADER +
    "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1\n" +
    "   1: 0000000000000000FFFF00000100007F:7531 0000000000000000FFFF00000100007F:A000 01 00000000:00000000 00:00000000 00000000 61200        0 2002 1\n" +
    "garbage line\n" +
    "   2: 00000000000000000000000001000000:7532 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 2003 1\n";
  deepEqual(parseTcpListeners(text), [{ port: 8080, uid: 0 }, { port: 30002, uid: 65534 }]);
});

Deno.test("parseTcpListeners() on this machine's /proc/net/tcp finds a socket this test listens on", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const found = parseTcpListeners(await Deno.readTextFile("/proc/net/tcp"))
    .filter((l) => l.port === port);
  deepEqual(found, [{ port, uid: Deno.uid() }]);
});
