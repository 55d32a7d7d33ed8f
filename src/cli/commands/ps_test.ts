import { deepEqual, equal } from "node:assert/strict";
import type { InstanceJson } from "../../api/wire.ts";
import { psTable } from "./ps.ts";

function instance(id: string, fields: Partial<InstanceJson> = {}): InstanceJson {
  const [service = "", instanceId = ""] = id.split(":");
  return {
    id,
    socket: "127.0.0.1:30001",
    uptime_secs: 65,
    idle_secs: 3,
    restarts: 0,
    health: "healthy",
    storage_used_bytes: 0,
    storage_quota_bytes: null,
    weight: 100,
    service,
    instance: instanceId,
    status: "running",
    pid: 1234,
    port: 30001,
    reason: null,
    retry_in_secs: null,
    disabled: false,
    ...fields,
  };
}

/** Splits each line at the header's column starts; asserts a space before every column. */
function columnsOf(lines: readonly string[], names: readonly string[]): string[][] {
  const header = lines[0]!;
  const starts = names.map((name) => header.indexOf(name));
  return lines.map((line) =>
    starts.map((start, i) => {
      // An empty last cell leaves no trailing spaces, so the line may end before its column.
      if (i > 0 && start < line.length) {
        equal(line[start - 1], " ", `no gap before ${names[i]} in ${JSON.stringify(line)}`);
      }
      return line.slice(start, starts[i + 1] ?? line.length).trimEnd();
    })
  );
}

const NAMES = ["INSTANCE", "LISTEN", "UPTIME", "IDLE", "HEALTH", "WEIGHT"];

Deno.test("psTable() keeps the original column widths when every value fits", () => {
  const lines = psTable([instance("notes:alice")], false);
  deepEqual(lines, [
    "INSTANCE             LISTEN               UPTIME     IDLE       HEALTH   WEIGHT",
    "notes:alice          127.0.0.1:30001      1m         3s         healthy  100",
  ]);
});

Deno.test("psTable() stays aligned for every health and weight value and for long ids", () => {
  const rows = [
    instance("notes:alice", { health: "unhealthy", weight: 0 }),
    instance("notes:bob", { health: "degraded", weight: 100 }),
    instance("a-service-name:an-instance-id-longer-than-twenty", { health: "unknown", weight: 7 }),
    instance("notes:carol", { health: "failed", weight: 55 }),
  ];
  const lines = psTable(rows, false);
  const cells = columnsOf(lines, NAMES);
  deepEqual(cells[0], NAMES);
  rows.forEach((row, i) => {
    deepEqual(cells[i + 1], [row.id, row.socket, "1m", "3s", row.health, String(row.weight)]);
  });
});

Deno.test("psTable() with --all aligns STATUS and REASON after every value", () => {
  const rows = [
    instance("notes:alice", { health: "unhealthy" }),
    instance("notes:bob", {
      status: "stopped",
      health: "unknown",
      pid: null,
      port: null,
      socket: "",
      weight: 0,
      reason: "stopped by ten stop",
    }),
    instance("crash:d", {
      status: "backoff",
      health: "unknown",
      pid: null,
      socket: "",
      reason: "exited with code 3",
      retry_in_secs: 4,
    }),
  ];
  const lines = psTable(rows, true);
  const cells = columnsOf(lines, [...NAMES, "STATUS", "REASON"]);
  deepEqual(cells.map((row) => row.slice(4)), [
    ["HEALTH", "WEIGHT", "STATUS", "REASON"],
    ["unhealthy", "100", "running", ""],
    ["unknown", "0", "stopped", "stopped by ten stop"],
    ["unknown", "100", "backoff", "exited with code 3; retry in 4s"],
  ]);
  deepEqual(cells.map((row) => row.slice(1, 3)), [
    ["LISTEN", "UPTIME"],
    ["127.0.0.1:30001", "1m"],
    ["-", "-"],
    ["-", "-"],
  ]);
  for (const line of lines) equal(line, line.trimEnd());
});
