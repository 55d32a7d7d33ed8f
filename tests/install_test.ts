/**
 * install.sh and scripts/release.sh: a release folder of the published layout is built from a
 * launcher of this checkout's `ten` and served over a local HTTP server; the installer is piped to
 * `sh` the way users run it (`curl -fsSL …/install.sh | sh`).
 * @module
 */
import { equal, match, ok } from "node:assert/strict";
import { VERSION } from "../src/cli/version.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const TARGET = Deno.build.arch === "aarch64"
  ? "aarch64-unknown-linux-gnu"
  : "x86_64-unknown-linux-gnu";
const ARCHIVE = `ten-${TARGET}.tar.gz`;
const dec = new TextDecoder();

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(
  argv: readonly string[],
  options: { env?: Record<string, string>; stdin?: Uint8Array } = {},
): Promise<Run> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: options.env ?? {},
    clearEnv: options.env !== undefined,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/** A release folder built by scripts/release.sh, served on 127.0.0.1 with a request log. */
class ReleaseServer implements AsyncDisposable {
  readonly dir: string;
  readonly requests: string[] = [];
  /** Paths answered with 404 whatever is on disk. */
  readonly missing = new Set<string>();
  /** Paths answered with other bytes than those on disk. */
  readonly replaced = new Map<string, Uint8Array>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(dir: string) {
    this.dir = dir;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const path = new URL(req.url).pathname;
        this.requests.push(path);
        if (this.missing.has(path)) return new Response("not found", { status: 404 });
        const body = this.replaced.get(path) ??
          await Deno.readFile(`${this.dir}${path}`).catch(() => undefined);
        return body === undefined
          ? new Response("not found", { status: 404 })
          : new Response(body.slice());
      },
    );
  }

  static async start(): Promise<ReleaseServer> {
    const dir = await Deno.makeTempDir({ prefix: "ten-release-" });
    // The executable a user gets is `deno compile`d; here the release holds a launcher of this
    // checkout's ten (compiling needs internet), which is what the installer runs to check it.
    const launcher = `${dir}/launcher`;
    await Deno.writeTextFile(
      launcher,
      `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet --config "${ROOT}/deno.json" "${ROOT}/main.ts" "$@"\n`,
    );
    await Deno.chmod(launcher, 0o755);
    const built = await run([
      "bash",
      `${ROOT}/scripts/release.sh`,
      "--out",
      `${dir}/dist`,
      "--target",
      TARGET,
      "--binary",
      launcher,
      "--repo",
      "example/tenement",
    ], { env: baseEnv() });
    equal(built.code, 0, built.stderr);
    return new ReleaseServer(`${dir}/dist`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
    await Deno.remove(this.dir.replace(/\/dist$/, ""), { recursive: true });
  }
}

/** The environment of an installer run: PATH, and what the launcher's deno needs to find its cache. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
  for (const name of ["HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Runs `curl -fsSL URL/install.sh | sh` with a clean environment plus `env`. */
async function curlPipeSh(server: ReleaseServer, env: Record<string, string>): Promise<Run> {
  return await run(["sh", "-c", `curl -fsSL ${server.url}/install.sh | sh`], {
    env: { ...baseEnv(), ...env },
  });
}

async function withInstallDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ten-install-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("release.sh: ten-<target>.tar.gz holds ten at its top level, SHA256SUMS matches, install.sh names the repo", async () => {
  await using server = await ReleaseServer.start();
  const listing = await run(["tar", "-tzf", `${server.dir}/${ARCHIVE}`]);
  equal(listing.stdout, "ten\n");
  const sums = await Deno.readTextFile(`${server.dir}/SHA256SUMS`);
  const check = await run(["sh", "-c", `cd "${server.dir}" && sha256sum -c SHA256SUMS`]);
  equal(check.code, 0, check.stdout + check.stderr);
  match(sums, new RegExp(`^[0-9a-f]{64}  ${ARCHIVE}\\n$`));
  const script = await Deno.readTextFile(`${server.dir}/install.sh`);
  match(script, /^TENEMENT_REPO="example\/tenement"$/m);
});

Deno.test("install.sh via curl | sh: downloads, verifies and installs a ten that runs", async () => {
  await using server = await ReleaseServer.start();
  await withInstallDir(async (dir) => {
    const result = await curlPipeSh(server, {
      TENEMENT_DOWNLOAD_URL: server.url,
      TENEMENT_INSTALL_DIR: dir,
    });
    equal(result.code, 0, result.stderr);
    match(
      result.stdout,
      new RegExp(`installed tenement ${VERSION.replaceAll(".", "\\.")} at ${dir}/ten`),
    );
    match(result.stdout, /is not on your PATH/);
    match(result.stdout, /next steps/);
    const version = await run([`${dir}/ten`, "--version"]);
    equal(version.stdout.trim(), `tenement ${VERSION}`);
    equal((await Deno.stat(`${dir}/ten`)).mode! & 0o777, 0o755);
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    equal(entries.join(","), "ten", "no temporary file is left beside ten");
  });
});

Deno.test("install.sh: a checksum mismatch installs nothing", async () => {
  await using server = await ReleaseServer.start();
  const archive = await Deno.readFile(`${server.dir}/${ARCHIVE}`);
  const tampered = archive.slice();
  tampered[tampered.length - 1]! ^= 0xff;
  server.replaced.set(`/${ARCHIVE}`, tampered);
  await withInstallDir(async (dir) => {
    const result = await curlPipeSh(server, {
      TENEMENT_DOWNLOAD_URL: server.url,
      TENEMENT_INSTALL_DIR: dir,
    });
    equal(result.code, 1);
    match(
      result.stderr,
      new RegExp(
        `checksum mismatch for ${ARCHIVE}: expected [0-9a-f]{64}, got [0-9a-f]{64}; nothing was installed`,
      ),
    );
    ok(await isEmptyDir(dir));
  });
});

Deno.test("install.sh: a missing release (404) fails with the URL and installs nothing", async () => {
  await using server = await ReleaseServer.start();
  server.missing.add(`/${ARCHIVE}`);
  await withInstallDir(async (dir) => {
    const result = await curlPipeSh(server, {
      TENEMENT_DOWNLOAD_URL: server.url,
      TENEMENT_INSTALL_DIR: dir,
    });
    equal(result.code, 1);
    match(result.stderr, new RegExp(`cannot download ${server.url}/${ARCHIVE}`));
    ok(await isEmptyDir(dir));
  });
  server.missing.add("/SHA256SUMS");
  await withInstallDir(async (dir) => {
    const result = await curlPipeSh(server, {
      TENEMENT_DOWNLOAD_URL: `${server.url}/`,
      TENEMENT_INSTALL_DIR: dir,
    });
    equal(result.code, 1);
    match(result.stderr, new RegExp(`cannot download ${server.url}/SHA256SUMS`));
    ok(await isEmptyDir(dir));
  });
});

Deno.test("install.sh: a download cut short runs nothing", async () => {
  await using server = await ReleaseServer.start();
  const script = await Deno.readFile(`${server.dir}/install.sh`);
  await withInstallDir(async (dir) => {
    // Cut at several points, including inside main and just before its call on the last line.
    const lastLine = new TextDecoder().decode(script).lastIndexOf('main "$@"');
    for (const cut of [Math.floor(script.length / 3), Math.floor(script.length * 0.9), lastLine]) {
      server.replaced.set("/install.sh", script.slice(0, cut));
      server.requests.length = 0;
      const result = await curlPipeSh(server, {
        TENEMENT_DOWNLOAD_URL: server.url,
        TENEMENT_INSTALL_DIR: dir,
      });
      equal(result.stdout, "", `cut at ${cut}: printed ${result.stdout}`);
      equal(server.requests.join(","), "/install.sh", `cut at ${cut}: downloaded more`);
      ok(await isEmptyDir(dir));
    }
  });
});

Deno.test("install.sh: an unsupported OS or architecture fails before downloading", async () => {
  await using server = await ReleaseServer.start();
  for (
    const [os, arch, message] of [
      ["Darwin", "arm64", "unsupported operating system 'Darwin': tenement runs on Linux only"],
      [
        "Linux",
        "riscv64",
        "unsupported architecture 'riscv64': releases exist for x86_64 and aarch64",
      ],
    ] as const
  ) {
    await withInstallDir(async (dir) => {
      // A `uname` earlier on PATH that reports another machine.
      await Deno.writeTextFile(
        `${dir}/uname`,
        `#!/bin/sh\ncase "$1" in -s) echo ${os} ;; -m) echo ${arch} ;; esac\n`,
      );
      await Deno.chmod(`${dir}/uname`, 0o755);
      server.requests.length = 0;
      const result = await curlPipeSh(server, {
        PATH: `${dir}:${baseEnv()["PATH"]}`,
        TENEMENT_DOWNLOAD_URL: server.url,
        TENEMENT_INSTALL_DIR: `${dir}/bin`,
      });
      equal(result.code, 1);
      equal(result.stderr.trim(), `tenement install: error: ${message}`);
      equal(server.requests.join(","), "/install.sh");
      await Deno.stat(`${dir}/bin`).then(() => ok(false, "install dir created"), () => {});
    });
  }
});

Deno.test("install.sh: the GitHub release URL follows TENEMENT_VERSION; an unpublished copy asks for TENEMENT_DOWNLOAD_URL", async () => {
  await using server = await ReleaseServer.start();
  await withInstallDir(async (dir) => {
    // A curl earlier on PATH that records the URL it was asked for and fails like a 404.
    await Deno.writeTextFile(
      `${dir}/curl`,
      `#!/bin/sh\nfor a; do u="$a"; done\necho "$u" >>"${dir}/urls"\nexit 22\n`,
    );
    await Deno.chmod(`${dir}/curl`, 0o755);
    const script = await Deno.readFile(`${server.dir}/install.sh`);
    const env = {
      PATH: `${dir}:${baseEnv()["PATH"]}`,
      HOME: dir,
      TENEMENT_INSTALL_DIR: `${dir}/bin`,
    };
    const pinned = await run(["sh"], {
      env: { ...env, TENEMENT_VERSION: "v9.8.7" },
      stdin: script,
    });
    equal(pinned.code, 1);
    const latest = await run(["sh"], { env, stdin: script });
    equal(latest.code, 1);
    equal(
      await Deno.readTextFile(`${dir}/urls`),
      "https://github.com/example/tenement/releases/download/v9.8.7/SHA256SUMS\n" +
        "https://github.com/example/tenement/releases/latest/download/SHA256SUMS\n",
    );
    const unpublished = await run(["sh", `${ROOT}/install.sh`], { env });
    equal(unpublished.code, 1);
    match(unpublished.stderr, /names no release; set TENEMENT_DOWNLOAD_URL/);
  });
});
