import { equal } from "node:assert/strict";
import { parseConfig } from "../config/parse_config.ts";
import { measureDirBytes, StorageMeter } from "./storage_meter.ts";

Deno.test("measureDirBytes sums files in nested dirs, stops at maxEntries, reads a missing dir as 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a`, new Uint8Array(100));
    await Deno.mkdir(`${dir}/sub/deeper`, { recursive: true });
    await Deno.writeFile(`${dir}/sub/b`, new Uint8Array(20));
    await Deno.writeFile(`${dir}/sub/deeper/c`, new Uint8Array(3));
    await Deno.symlink(`${dir}/a`, `${dir}/link`);
    equal(await measureDirBytes(dir, { maxEntries: 100 }), 123);
    equal(await measureDirBytes(dir, { maxEntries: 0 }), 0);
    equal(await measureDirBytes(`${dir}/missing`, { maxEntries: 100 }), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StorageMeter measures {data_dir}/{service}/{id}, reuses a fresh result, reports the quota", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig(
      '[settings]\ndata_dir = "data"\n[service.notes]\ncommand = "x"\nstorage_quota_mb = 2\n' +
        '[service.other]\ncommand = "y"\n',
      { path: `${dir}/tenement.toml` },
    );
    let nowMs = 0;
    const meter = new StorageMeter(config, { cacheMs: 1_000, now: () => nowMs });
    const ref = { service: "notes", id: "alice" };
    equal(await meter.usedBytes(ref), 0);
    await Deno.mkdir(`${dir}/data/notes/alice`, { recursive: true });
    await Deno.writeFile(`${dir}/data/notes/alice/db`, new Uint8Array(64));
    equal(await meter.usedBytes(ref), 0, "a fresh measurement is reused");
    nowMs = 1_000;
    equal(await meter.usedBytes(ref), 64);
    equal(meter.quotaBytes("notes"), 2 * 1024 * 1024);
    equal(meter.quotaBytes("other"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
