/**
 * Who each instance runs as (`user = "inherit" | "auto" | name`), decided at every start: a
 * uid of its own from `auto_user_range` (kept in the store, so a restart of the instance or of
 * the daemon keeps it), or a named user's uid and primary gid. It gives the instance its data
 * dir and socket dir, checks that the user can reach the program and working dir, and frees
 * the uid when the instance is purged.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServiceConfig, Settings } from "../config/schema.ts";
import { messageOf, SpawnError } from "../core/errors.ts";
import { pickFreeUid } from "../core/uid_pick.ts";
import { ensureDirMode, ensureOwnedDir } from "./owned_dirs.ts";
import { findUnreachable, type Unreachable } from "./reach_check.ts";
import { type SocketRun, trustInstanceSocket } from "./socket_trust.ts";
import { findSystemTool } from "./system_tool.ts";
import { parseTcpListeners } from "../core/tcp_listeners.ts";
import { readSystemAccounts, type SystemAccounts } from "./system_accounts.ts";

const log = getLogger(["tenement", "users"]);

/** The uid and gid an instance runs as. */
export interface InstanceUser {
  readonly uid: number;
  readonly gid: number;
}

/** Where the uids of `user = "auto"` are kept (the state store). */
export interface UidStore {
  uidOf(service: string, id: string): Promise<number | undefined>;
  claimedUids(): Promise<Set<number>>;
  claimUid(service: string, id: string, uid: number): Promise<boolean>;
  releaseUid(service: string, id: string): Promise<void>;
}

/** One start's request (the supervisor's `UserRequest`). */
export interface UserRequest {
  readonly service: ServiceConfig;
  readonly id: string;
  readonly settings: Pick<Settings, "dataDir" | "autoUserRange">;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly instanceDir: string;
  /** The socket's own dir (default template), given to the user; undefined otherwise. */
  readonly socketDir: string | undefined;
}

/** Options of {@linkcode InstanceUsers}. */
export interface InstanceUsersOptions {
  /** The daemon's uid. @default {Deno.uid()} */
  readonly daemonUid?: number | null;
  /** Reads the machine's users and groups. @default {readSystemAccounts} */
  readonly readAccounts?: () => Promise<SystemAccounts>;
}

/** Decides, and prepares, the user of each instance start. */
export class InstanceUsers {
  readonly #store: UidStore;
  readonly #daemonUid: number | null;
  readonly #readAccounts: () => Promise<SystemAccounts>;
  /** Allocations one at a time, so two new instances never race for one uid. */
  #allocating: Promise<unknown> = Promise.resolve();

  constructor(store: UidStore, options: InstanceUsersOptions = {}) {
    this.#store = store;
    this.#daemonUid = options.daemonUid === undefined ? Deno.uid() : options.daemonUid;
    this.#readAccounts = options.readAccounts ?? (() => readSystemAccounts());
  }

  /**
   * The user the instance runs as (undefined: the daemon's own), with its dirs ready and its
   * program and working dir checked reachable. Throws SpawnError with the path and the fixes.
   */
  async prepare(req: UserRequest): Promise<InstanceUser | undefined> {
    const user = (await this.#resolve(req)) ?? (await this.#sandboxFallback(req));
    if (this.#daemonUid === 0) await this.#prepareDirs(req, user);
    if (user !== undefined) await this.#checkReach(req, user);
    return user;
  }

  /**
   * A root daemon never runs a sandbox as root: without a user of its own (`user = "inherit"`)
   * the sandbox gets a uid of its own from `auto_user_range`, as with `user = "auto"`, so two
   * sandboxes never share a uid (nor with the host's `nobody`).
   */
  async #sandboxFallback(req: UserRequest): Promise<InstanceUser | undefined> {
    if (this.#daemonUid !== 0 || req.service.isolation !== "sandbox") return undefined;
    const uid = await this.#autoUid(req);
    return { uid, gid: uid };
  }

  /**
   * Whether the proxy may connect to the socket of a run under its own user (a root daemon takes
   * its socket dir back first; see `socket_trust.ts`). Always true for a daemon that is not root.
   */
  async trustSocket(run: SocketRun): Promise<boolean> {
    if (this.#daemonUid !== 0) return true;
    const isTrusted = await trustInstanceSocket(run);
    if (!isTrusted) {
      log.warn(
        "Not using {path}: it is not a socket of uid {uid} in a directory that uid cannot change; the proxy uses the port instead",
        { path: run.socketPath, uid: run.user.uid },
      );
    }
    return isTrusted;
  }

  /**
   * Why 127.0.0.1:`port` is not the run's own: a listening socket on it was made by another uid
   * (a tenant, or anything else on the host, bound it while the app was starting). Undefined
   * when every listener on the port is the run's user's, or when none can be seen.
   */
  async checkPort(run: { readonly port: number; readonly user: InstanceUser }): Promise<
    string | undefined
  > {
    const uids = new Set<number>();
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch {
        continue; // No IPv6, or no /proc: nothing to compare.
      }
      for (const listener of parseTcpListeners(text)) {
        if (listener.port === run.port) uids.add(listener.uid);
      }
    }
    uids.delete(run.user.uid);
    if (uids.size === 0) return undefined;
    const others = [...uids].join(", ");
    log.warn("Port {port} is listened on by uid {others}, not by the instance's uid {uid}", {
      port: run.port,
      others,
      uid: run.user.uid,
    });
    return `port ${run.port} is held by uid ${others}, not by the instance's uid ${run.user.uid}: another process took it`;
  }

  /**
   * Ends every process left under the uid `user = "auto"` gave `service:id` once its run is
   * stopped: a child that called setsid left the process group the stop signals. The uid is the
   * instance's alone, so nothing else is touched.
   */
  async endProcesses(service: string, id: string): Promise<void> {
    if (this.#daemonUid !== 0) return;
    const uid = await this.#store.uidOf(service, id);
    if (uid === undefined) return;
    try {
      await this.#killProcessesOf(uid);
    } catch (err: unknown) {
      log.warn("Cannot end the processes left under uid {uid}: {err}", {
        uid,
        err: messageOf(err),
      });
    }
  }

  /** Frees the uid `user = "auto"` gave `service:id` (`ten rm --purge`). */
  async release(service: string, id: string): Promise<void> {
    const uid = await this.#store.uidOf(service, id);
    if (uid === undefined) return;
    // A process that left its group outlives the stop; under the uid's next owner it would
    // reach that tenant's files.
    await this.#killProcessesOf(uid);
    await this.#store.releaseUid(service, id);
    log.info("Freed uid {uid} of {key}", { uid, key: `${service}:${id}` });
  }

  /**
   * SIGKILLs every process of `uid` (root only): `kill -KILL -1` as that uid reaches them all at
   * once, forks included, and nothing else.
   */
  async #killProcessesOf(uid: number): Promise<void> {
    if (this.#daemonUid !== 0) return;
    const setpriv = await findSystemTool("setpriv", "util-linux");
    const drop = [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"];
    await new Deno.Command(setpriv, {
      args: [...drop, "/bin/sh", "-c", "kill -s KILL -- -1"],
      cwd: "/",
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  }

  async #resolve(req: UserRequest): Promise<InstanceUser | undefined> {
    const setting = req.service.user;
    const key = `${req.service.name}:${req.id}`;
    if (setting === "inherit") return undefined;
    if (setting === "auto") {
      if (this.#daemonUid !== 0) return undefined;
      const uid = await this.#autoUid(req);
      return { uid, gid: uid };
    }
    const accounts = await this.#readAccounts();
    const entry = accounts.users.find((u) => u.name === setting);
    if (entry === undefined) {
      throw new SpawnError(
        `Cannot start ${key}: user = ${
          JSON.stringify(setting)
        } names no user of this machine (not in /etc/passwd); create it (adduser --system ${setting}) or set user = "auto" or "inherit"`,
      );
    }
    if (entry.uid === this.#daemonUid) return undefined;
    if (this.#daemonUid !== 0) {
      throw new SpawnError(
        `Cannot start ${key} as user ${
          JSON.stringify(setting)
        }: only root can switch users, and ten serve runs as uid ${this.#daemonUid}; run ten serve as root or set user = "inherit"`,
      );
    }
    return entry.uid === 0 ? undefined : { uid: entry.uid, gid: entry.gid };
  }

  async #autoUid(req: UserRequest): Promise<number> {
    const { name: service } = req.service;
    const held = await this.#store.uidOf(service, req.id);
    if (held !== undefined) return held;
    const turn = this.#allocating.then(() => this.#allocate(req));
    this.#allocating = turn.catch(() => {});
    return await turn;
  }

  async #allocate(req: UserRequest): Promise<number> {
    const { name: service } = req.service;
    const key = `${service}:${req.id}`;
    const range = req.settings.autoUserRange;
    for (let attempt = 0; attempt < 5; attempt++) {
      const held = await this.#store.uidOf(service, req.id);
      if (held !== undefined) return held;
      const [accounts, claimed] = await Promise.all([
        this.#readAccounts(),
        this.#store.claimedUids(),
      ]);
      const userIds = new Set(accounts.users.map((u) => u.uid));
      const groupIds = new Set(accounts.groups.map((g) => g.gid));
      const uid = pickFreeUid(
        range,
        key,
        (id) => claimed.has(id) || userIds.has(id) || groupIds.has(id),
      );
      if (uid === undefined) {
        throw new SpawnError(
          `Cannot start ${key}: every id of auto_user_range (${range.start}-${range.end}) is taken by an instance or a user of this machine; widen [settings] auto_user_range or ten rm --purge instances no longer needed`,
        );
      }
      if (await this.#store.claimUid(service, req.id, uid)) {
        log.info('{key} runs as uid {uid} (user = "auto")', { key, uid });
        return uid;
      }
    }
    throw new SpawnError(`Cannot start ${key}: could not claim a uid (the store kept changing)`);
  }

  async #prepareDirs(req: UserRequest, user: InstanceUser | undefined): Promise<void> {
    const owner = user ?? { uid: 0, gid: 0 };
    const serviceDir = req.instanceDir.slice(0, req.instanceDir.lastIndexOf("/"));
    // Others may pass through to their own dir, never list who else lives here.
    if (user !== undefined) await Deno.chmod(req.settings.dataDir, 0o711);
    await ensureDirMode(serviceDir, 0o711);
    await ensureOwnedDir(req.instanceDir, owner);
    if (req.socketDir !== undefined) {
      await ensureDirMode(req.socketDir.slice(0, req.socketDir.lastIndexOf("/")), 0o711);
      await ensureOwnedDir(req.socketDir, owner);
    }
  }

  async #checkReach(req: UserRequest, user: InstanceUser): Promise<void> {
    const failure = await findUnreachable({
      argv: req.argv,
      pathVar: req.env["PATH"],
      cwd: req.cwd,
      instanceDir: req.instanceDir,
      user,
    });
    if (failure === undefined) return;
    throw new SpawnError(describeUnreachable(req, user, failure));
  }
}

/** The spawn error for a path the instance's user cannot reach: what, why, and the fixes. */
export function describeUnreachable(
  req: Pick<UserRequest, "service" | "id">,
  user: InstanceUser,
  failure: Unreachable,
): string {
  const setting = req.service.user;
  const who = setting === "auto"
    ? `uid ${user.uid} (user = "auto")`
    : `user ${JSON.stringify(setting)} (uid ${user.uid})`;
  const what = failure.isFromPath ? `${failure.path} (the program PATH finds first)` : failure.path;
  const fixes = failure.role === "data dir"
    ? `Put [settings] data_dir where every instance's user can pass through (e.g. /var/lib/tenement), let others enter the directories above it (chmod o+x), or set user = "inherit" for this service`
    : `Move the app under /srv or /opt, install its toolchain system-wide${
      failure.isFromPath ? " (or put /usr/bin first in the service's PATH)" : ""
    }, or set user = "inherit" for this service`;
  return `${req.service.name}:${req.id} runs as ${who}, which cannot reach ${what}: ${failure.reason}. ${fixes}`;
}
