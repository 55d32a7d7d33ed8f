import { deepEqual, equal } from "node:assert/strict";
import { installedWhenNoProjectConfig } from "./global_options.ts";
import { parseInstalledUnit } from "./installed_service.ts";
import { renderUnit } from "./systemd_unit.ts";

Deno.test("the installed unit is read back: config, data dir and where its plain listener is", () => {
  const unit = (options: { bind?: string; tlsEmail?: string }): string =>
    renderUnit({
      bin: "/usr/local/bin/ten",
      config: "/etc/tenement/tenement.toml",
      dataDir: "/var/lib/my tenants",
      domain: "example.com",
      port: 8081,
      maxGraceMs: 10_000,
      ...options,
    });
  deepEqual(parseInstalledUnit(unit({})), {
    config: "/etc/tenement/tenement.toml",
    dataDir: "/var/lib/my tenants",
    server: "http://127.0.0.1:8081",
  });
  equal(parseInstalledUnit(unit({ bind: "10.0.0.5" })).server, "http://10.0.0.5:8081");
  equal(parseInstalledUnit(unit({ bind: "::1" })).server, "http://127.0.0.1:8081");
  // With TLS the plain listener is on loopback whatever --bind says.
  equal(
    parseInstalledUnit(unit({ bind: "10.0.0.5", tlsEmail: "a@example.com" })).server,
    "http://127.0.0.1:8081",
  );
  deepEqual(parseInstalledUnit("[Unit]\n"), {
    config: undefined,
    dataDir: undefined,
    server: undefined,
  });
});

Deno.test("client verbs fall back to the installed service only when no tenement.toml is nearby", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const unitPath = `${dir}/tenement.service`;
    await Deno.writeTextFile(
      unitPath,
      "ExecStart=/usr/local/bin/ten serve --port 80 --domain example.com\nEnvironment=TENEMENT_CONFIG=/etc/tenement/tenement.toml\n",
    );
    await Deno.mkdir(`${dir}/project/sub`, { recursive: true });
    equal(
      (await installedWhenNoProjectConfig(`${dir}/project/sub`, unitPath))?.server,
      "http://127.0.0.1:80",
    );
    await Deno.writeTextFile(`${dir}/project/tenement.toml`, "");
    equal(await installedWhenNoProjectConfig(`${dir}/project/sub`, unitPath), undefined);
    equal(await installedWhenNoProjectConfig(dir, `${dir}/missing.service`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
