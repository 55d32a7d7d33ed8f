import { deepEqual, equal, notEqual, ok, rejects } from "node:assert/strict";
import { parseConfig } from "../config/parse_config.ts";
import type { ServiceConfig } from "../config/schema.ts";
import { SpawnError } from "../core/errors.ts";
import { InstanceUsers, type UidStore, type UserRequest } from "./instance_users.ts";
import type { SystemAccounts } from "./system_accounts.ts";

/** An in-memory uid store with the state store's rules (one uid per instance, one per uid). */
class MemoryUids implements UidStore {
  readonly byInstance = new Map<string, number>();
  uidOf(service: string, id: string): Promise<number | undefined> {
    return Promise.resolve(this.byInstance.get(`${service}:${id}`));
  }
  claimedUids(): Promise<Set<number>> {
    return Promise.resolve(new Set(this.byInstance.values()));
  }
  claimUid(service: string, id: string, uid: number): Promise<boolean> {
    const key = `${service}:${id}`;
    if (this.byInstance.has(key) || [...this.byInstance.values()].includes(uid)) {
      return Promise.resolve(false);
    }
    this.byInstance.set(key, uid);
    return Promise.resolve(true);
  }
  releaseUid(service: string, id: string): Promise<void> {
    this.byInstance.delete(`${service}:${id}`);
    return Promise.resolve();
  }
}

const ACCOUNTS: SystemAccounts = {
  users: [
    { name: "root", uid: 0, gid: 0, home: "/root" },
    { name: "www-data", uid: 33, gid: 33, home: "/var/www" },
    { name: "deploy", uid: 1000, gid: 100, home: "/home/deploy" },
  ],
  groups: [{ name: "root", gid: 0 }],
};

function serviceWith(user: string): ServiceConfig {
  const config = parseConfig(`[service.notes]\ncommand = "/bin/true"\nuser = "${user}"\n`, {
    path: "/t.toml",
  });
  return config.services.get("notes")!;
}

async function withDataDir(fn: (dataDir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    await fn(`${dir}/data`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function request(
  service: ServiceConfig,
  id: string,
  dataDir: string,
  range = { start: 61184, end: 65519 },
): UserRequest {
  return {
    service,
    id,
    settings: { dataDir, autoUserRange: range },
    argv: ["/bin/true"],
    env: { PATH: "/usr/bin:/bin" },
    cwd: "/",
    instanceDir: `${dataDir}/${service.name}/${id}`,
    socketDir: `${dataDir}/run/${service.name}.${id}`,
  };
}

const isRoot = Deno.uid() === 0;

Deno.test({
  name: 'InstanceUsers: user = "auto" gives each instance its own stable uid and its dirs',
  ignore: !isRoot,
  async fn() {
    await withDataDir(async (dataDir) => {
      const store = new MemoryUids();
      const users = new InstanceUsers(store, {
        daemonUid: 0,
        readAccounts: () => Promise.resolve(ACCOUNTS),
      });
      const auto = serviceWith("auto");
      const ids = ["a", "b", "c", "d", "e", "f"];
      const given = await Promise.all(ids.map((id) => users.prepare(request(auto, id, dataDir))));
      const uids = given.map((u) => u!.uid);
      equal(new Set(uids).size, ids.length, `shared uid: ${uids}`);
      for (const user of given) equal(user!.gid, user!.uid);
      deepEqual(await users.prepare(request(auto, "a", dataDir)), given[0]);
      const dir = await Deno.stat(`${dataDir}/notes/a`);
      equal(dir.uid, uids[0]);
      equal((dir.mode ?? 0) & 0o777, 0o700);
      equal(((await Deno.stat(dataDir)).mode ?? 0) & 0o777, 0o711);
      equal((await Deno.stat(`${dataDir}/run/notes.a`)).uid, uids[0]);
      // A file left by an earlier run as another user is given to the instance.
      await Deno.chown(`${dataDir}/notes/a`, 0, 0);
      await Deno.writeTextFile(`${dataDir}/notes/a/old.db`, "x");
      await users.prepare(request(auto, "a", dataDir));
      equal((await Deno.stat(`${dataDir}/notes/a/old.db`)).uid, uids[0]);
      await users.release("notes", "a");
      equal(await store.uidOf("notes", "a"), undefined);
    });
  },
});

Deno.test({
  name: "InstanceUsers: ids of existing users and groups are skipped; a full range is an error",
  ignore: !isRoot,
  async fn() {
    await withDataDir(async (dataDir) => {
      const range = { start: 5000, end: 5002 };
      const accounts: SystemAccounts = {
        users: [{ name: "u", uid: 5000, gid: 5000, home: "/" }],
        groups: [{ name: "g", gid: 5001 }],
      };
      const users = new InstanceUsers(new MemoryUids(), {
        daemonUid: 0,
        readAccounts: () => Promise.resolve(accounts),
      });
      const auto = serviceWith("auto");
      const user = await users.prepare(request(auto, "a", dataDir, range));
      equal(user?.uid, 5002);
      await rejects(
        users.prepare(request(auto, "b", dataDir, range)),
        (e: unknown) =>
          e instanceof SpawnError && e.message.includes("auto_user_range (5000-5002) is taken"),
      );
    });
  },
});

Deno.test({
  name: "InstanceUsers: a named user runs with its uid and primary gid; unknown names fail",
  ignore: !isRoot,
  async fn() {
    await withDataDir(async (dataDir) => {
      const users = new InstanceUsers(new MemoryUids(), {
        daemonUid: 0,
        readAccounts: () => Promise.resolve(ACCOUNTS),
      });
      deepEqual(await users.prepare(request(serviceWith("deploy"), "a", dataDir)), {
        uid: 1000,
        gid: 100,
      });
      equal(await users.prepare(request(serviceWith("root"), "a", dataDir)), undefined);
      await rejects(
        users.prepare(request(serviceWith("ghost"), "a", dataDir)),
        (e: unknown) =>
          e instanceof SpawnError && e.message.includes('user = "ghost" names no user'),
      );
    });
  },
});

Deno.test("InstanceUsers: not root, auto runs as the daemon and only root switches users", async () => {
  await withDataDir(async (dataDir) => {
    const users = new InstanceUsers(new MemoryUids(), {
      daemonUid: 1000,
      readAccounts: () => Promise.resolve(ACCOUNTS),
    });
    equal(await users.prepare(request(serviceWith("auto"), "a", dataDir)), undefined);
    equal(await users.prepare(request(serviceWith("inherit"), "a", dataDir)), undefined);
    equal(await users.prepare(request(serviceWith("deploy"), "a", dataDir)), undefined);
    await rejects(
      users.prepare(request(serviceWith("www-data"), "a", dataDir)),
      (e: unknown) => e instanceof SpawnError && e.message.includes("only root can switch users"),
    );
    // Nothing was created: a non-root daemon leaves the dirs to the runner.
    await rejects(Deno.stat(`${dataDir}/notes`), Deno.errors.NotFound);
  });
});

Deno.test({
  name: "InstanceUsers: a program its user cannot reach fails with the path and the fixes",
  ignore: !isRoot,
  async fn() {
    await withDataDir(async (dataDir) => {
      const hidden = dataDir.replace(/\/data$/, "/hidden");
      await Deno.mkdir(hidden, { mode: 0o700 });
      await Deno.writeTextFile(`${hidden}/app.sh`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const users = new InstanceUsers(new MemoryUids(), {
        daemonUid: 0,
        readAccounts: () => Promise.resolve(ACCOUNTS),
      });
      const req = { ...request(serviceWith("auto"), "a", dataDir), argv: ["app.sh"] };
      const env = { PATH: `${hidden}:/usr/bin:/bin` };
      await rejects(users.prepare({ ...req, env }), (e: unknown) => {
        ok(e instanceof SpawnError);
        ok(e.message.startsWith("notes:a runs as uid "), e.message);
        ok(e.message.includes(`(the program PATH finds first)`), e.message);
        ok(e.message.includes(`/hidden is mode 0700`), e.message);
        ok(e.message.includes('or set user = "inherit" for this service'), e.message);
        return true;
      });
      // Reachable once the directory lets others pass.
      await Deno.chmod(hidden, 0o711);
      notEqual(await users.prepare({ ...req, env }), undefined);
    });
  },
});
