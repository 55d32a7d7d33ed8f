import { deepEqual, equal, match, ok } from "node:assert/strict";
import { listGroupMembers, parseProcStat, readBootId, readProcStat } from "./proc_stat.ts";

/** Fields 3 onwards of a real `/proc/<pid>/stat` line; field 22 (start time) is 124664. */
const AFTER_COMM =
  "R 20941 20941 11091 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 124664 3133440 390 " +
  "18446744073709551615 94901725913088 94901725932969 140728663005088 0 0 0 0 0 0 0 0 0 17 1 0 0 " +
  "0 0 0 94901725948976 94901725950592 94901967421440 140728663013915 140728663013935 " +
  "140728663013935 140728663015403 0\n";

Deno.test("parseProcStat() reads pid, state, ppid, pgid and start ticks", () => {
  deepEqual(parseProcStat(`20943 (cat) ${AFTER_COMM}`), {
    pid: 20943,
    state: "R",
    ppid: 20941,
    pgid: 20941,
    startTicks: 124664,
  });
});

Deno.test("parseProcStat() handles spaces and parentheses in the command name", async (t) => {
  const names = ["my app", "a) R 1 2 3", "((x))", ")", "(", " ", "tricky) S 9 9 9 0 -1"];
  for (const name of names) {
    await t.step(JSON.stringify(name), () => {
      deepEqual(parseProcStat(`4242 (${name}) ${AFTER_COMM}`), {
        pid: 4242,
        state: "R",
        ppid: 20941,
        pgid: 20941,
        startTicks: 124664,
      });
    });
  }
});

Deno.test("parseProcStat() returns undefined for text that is not a stat line", () => {
  const bad = ["", "garbage", "12 (cat", "12 (cat) R 1 1", "x (cat) " + AFTER_COMM];
  for (const text of bad) equal(parseProcStat(text), undefined, JSON.stringify(text));
});

Deno.test("readProcStat(Deno.pid) describes this very process", async () => {
  const stat = await readProcStat(Deno.pid);
  ok(stat, "the test process has a /proc entry");
  equal(stat.pid, Deno.pid);
  equal(stat.ppid, Deno.ppid);
  match(stat.state, /^[RS]$/);
  ok(Number.isInteger(stat.pgid) && stat.pgid > 0, `pgid ${stat.pgid}`);
  ok(Number.isInteger(stat.startTicks) && stat.startTicks >= 0, `startTicks ${stat.startTicks}`);
  // The start time of a live process never changes, which is what makes it a pid-reuse guard.
  equal((await readProcStat(Deno.pid))?.startTicks, stat.startTicks);
});

Deno.test("readProcStat() returns undefined for a pid that does not exist", async () => {
  // Far above any kernel's pid_max (at most 2^22).
  equal(await readProcStat(2 ** 30), undefined);
});

Deno.test("listGroupMembers() includes this process in its own process group", async () => {
  const stat = await readProcStat(Deno.pid);
  ok(stat);
  const members = await listGroupMembers(stat.pgid);
  ok(members.includes(Deno.pid), `${Deno.pid} not in ${members.join(",")}`);
});

Deno.test("readBootId() returns the kernel's boot id", () => {
  match(readBootId() ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  equal(readBootId(), readBootId());
});
