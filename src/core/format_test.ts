import { equal } from "node:assert/strict";
import { formatBytes, formatDuration } from "./format.ts";

Deno.test("formatDuration() shows whole seconds, minutes, hours or days, rounded down", () => {
  const cases: [secs: number, text: string][] = [
    [0, "0s"],
    [0.999, "0s"],
    [1, "1s"],
    [59.999, "59s"],
    [60, "1m"],
    [119, "1m"],
    [3599, "59m"],
    [3600, "1h"],
    [86_399, "23h"],
    [86_400, "1d"],
    [10 * 86_400 + 3599, "10d"],
    [-5, "0s"],
  ];
  for (const [secs, text] of cases) equal(formatDuration(secs), text, `${secs}s`);
});

Deno.test("formatBytes() uses binary units with one decimal above 1 KiB", () => {
  const cases: [bytes: number, text: string][] = [
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [1024 ** 2, "1.0 MiB"],
    [5.25 * 1024 ** 3, "5.3 GiB"],
    [1024 ** 4, "1.0 TiB"],
    [1024 ** 5, "1024.0 TiB"],
  ];
  for (const [bytes, text] of cases) equal(formatBytes(bytes), text, `${bytes} bytes`);
});
