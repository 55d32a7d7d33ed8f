import { equal } from "node:assert/strict";
import { deployWeight } from "./deploy_weight.ts";

Deno.test("deployWeight(): an explicit weight wins, else blue-green", async (t) => {
  const cases: [string, Parameters<typeof deployWeight>[0], number][] = [
    ["first deploy of a service", { requested: undefined, current: undefined, others: [] }, 100],
    [
      "next to a version with traffic",
      { requested: undefined, current: undefined, others: [100] },
      0,
    ],
    ["next to versions without traffic", { requested: undefined, current: 0, others: [0, 0] }, 100],
    [
      "next to one of several with traffic",
      { requested: undefined, current: 0, others: [0, 5] },
      0,
    ],
    ["explicit 100 next to traffic", { requested: 100, current: undefined, others: [100] }, 100],
    ["explicit 0 of the only version", { requested: 0, current: undefined, others: [] }, 0],
    ["explicit 40 of a redeploy", { requested: 40, current: 100, others: [100] }, 40],
    ["a redeploy keeps its traffic", { requested: undefined, current: 30, others: [70] }, 30],
    [
      "a redeploy without traffic stays at 0",
      { requested: undefined, current: 0, others: [100] },
      0,
    ],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => equal(deployWeight(input), expected));
  }
});
