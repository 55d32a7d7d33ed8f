import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { challengeFqdn, type DnsLookup, runDnsHook, waitForTxt } from "./dns_hook.ts";

async function withHook(body: string, fn: (path: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ten-dnshook-" });
  try {
    const path = `${dir}/hook.sh`;
    await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("challengeFqdn() prefixes _acme-challenge and drops a wildcard and a trailing dot", () => {
  equal(challengeFqdn("notes.example.test"), "_acme-challenge.notes.example.test");
  equal(challengeFqdn("*.notes.example.test."), "_acme-challenge.notes.example.test");
});

Deno.test("runDnsHook() passes action, FQDN and value", async () => {
  await withHook('echo "$@" > "$(dirname "$0")/args"', async (path, dir) => {
    await runDnsHook(path, ["set", "_acme-challenge.a.test", "v4lue"]);
    equal(await Deno.readTextFile(`${dir}/args`), "set _acme-challenge.a.test v4lue\n");
  });
});

Deno.test("runDnsHook() names the hook, the exit code and the last stderr lines", async () => {
  await withHook(
    'for i in 1 2 3 4 5 6 7; do echo "line $i" >&2; done; echo "no zone for $2" >&2; exit 3',
    async (path) => {
      await rejects(runDnsHook(path, ["set", "_acme-challenge.a.test", "v"]), (e) => {
        const msg = (e as Error).message;
        match(msg, new RegExp(`DNS hook "${path}" set _acme-challenge.a.test failed: exit code 3`));
        match(msg, /line 7 \| no zone for _acme-challenge\.a\.test$/);
        equal(msg.includes("line 3"), false);
        return true;
      });
    },
  );
});

Deno.test("runDnsHook() kills the hook's whole group at its timeout", async () => {
  await withHook('sleep 30 & echo $! > "$(dirname "$0")/child"; sleep 30', async (path, dir) => {
    const started = performance.now();
    await rejects(
      runDnsHook(path, ["unset", "_acme-challenge.a.test", "v"], { timeoutMs: 300 }),
      /failed: timed out after 300 ms/,
    );
    equal(performance.now() - started < 5_000, true);
    const child = Number(await Deno.readTextFile(`${dir}/child`));
    // The background `sleep` was in the hook's group, so it is gone too (or a zombie being reaped).
    const stat = await Deno.readTextFile(`/proc/${child}/stat`).catch(() => "");
    equal(stat === "" || / Z /.test(stat), true, stat);
  });
});

Deno.test("runDnsHook() reports a hook that cannot start", async () => {
  await rejects(
    runDnsHook("/nonexistent/hook", ["set", "x", "y"]),
    /DNS hook "\/nonexistent\/hook" set x failed: cannot start it/,
  );
});

Deno.test("waitForTxt() asks the zone's authoritative servers, and waits until every one has the value", async () => {
  const asked: string[] = [];
  let polls = 0;
  const lookup: DnsLookup = {
    ns: (name) => Promise.resolve(name === "example.com" ? ["ns1.dns.test.", "ns2.dns.test"] : []),
    addresses: (host) => Promise.resolve(host === "ns1.dns.test" ? ["192.0.2.1"] : ["192.0.2.2"]),
    txt: (fqdn, server) => {
      asked.push(`${fqdn}@${server?.ipAddr ?? "system"}`);
      if (server?.ipAddr === "192.0.2.2") polls++;
      // ns2 gets the record on its third poll; the system resolver would say it at once.
      const isThere = server === undefined || server.ipAddr === "192.0.2.1" || polls >= 3;
      return Promise.resolve(isThere ? ["other", "the-value"] : ["other"]);
    },
  };
  await waitForTxt("_acme-challenge.a.example.com", "the-value", {
    lookup,
    intervalMs: 1,
    timeoutMs: 5_000,
  });
  equal(polls, 3);
  ok(asked.every((a) => !a.endsWith("@system")), asked.join(" "));
  // Without authoritative servers found, the system resolver is asked.
  const fallback: string[] = [];
  await waitForTxt("_acme-challenge.b.internal.test", "v", {
    lookup: {
      ns: () => Promise.reject(new Error("NXDOMAIN")),
      addresses: () => Promise.resolve([]),
      txt: (_fqdn, server) => {
        fallback.push(server?.ipAddr ?? "system");
        return Promise.resolve(["v"]);
      },
    },
    timeoutMs: 1_000,
  });
  deepEqual(fallback, ["system"]);
  // Nor when none of them answers from here.
  const unreachable: string[] = [];
  await waitForTxt("_acme-challenge.c.example.com", "v", {
    lookup: {
      ns: () => Promise.resolve(["ns1.dns.test"]),
      addresses: () => Promise.resolve(["192.0.2.1"]),
      txt: (_fqdn, server) => {
        unreachable.push(server?.ipAddr ?? "system");
        return server === undefined
          ? Promise.resolve(["v"])
          : Promise.reject(new Error("timed out"));
      },
    },
    timeoutMs: 1_000,
  });
  deepEqual(unreachable, ["192.0.2.1", "system"]);
});
