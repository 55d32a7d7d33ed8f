import { equal, ok } from "node:assert/strict";
import { type InstanceSample, ResourceSampler } from "./resource_sampler.ts";

Deno.test("ResourceSampler measures a live process from /proc and forgets what is no longer a target", async () => {
  let targets = [{ service: "self", id: "a", pid: Deno.pid }];
  const published: InstanceSample[][] = [];
  await using sampler = new ResourceSampler({
    targets: () => targets,
    onSample: (samples) => published.push([...samples]),
    cgroupRoot: "/nonexistent",
    everyMs: 60_000,
  });
  await sampler.sampleNow();
  const usage = sampler.usage("self", "a");
  ok((usage?.rssBytes ?? 0) > 1_000_000, `rss ${usage?.rssBytes}`);
  ok((usage?.cpuSeconds ?? -1) >= 0);
  equal(published.at(-1)?.[0]?.service, "self");
  targets = [];
  await sampler.sampleNow();
  equal(sampler.usage("self", "a"), undefined);
  equal(published.at(-1)?.length, 0);
});

Deno.test("ResourceSampler skips a pid that does not exist", async () => {
  await using sampler = new ResourceSampler({
    targets: () => [{ service: "x", id: "gone", pid: 2 ** 22 + 1 }],
    cgroupRoot: "/nonexistent",
  });
  await sampler.sampleNow();
  equal(sampler.usage("x", "gone"), undefined);
});

Deno.test("ResourceSampler.start() samples at once and its disposal ends the loop", async () => {
  const published: InstanceSample[][] = [];
  const sampler = new ResourceSampler({
    targets: () => [{ service: "self", id: "a", pid: Deno.pid }],
    onSample: (samples) => published.push([...samples]),
    cgroupRoot: "/nonexistent",
    everyMs: 10,
  });
  sampler.start();
  while (published.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await sampler[Symbol.asyncDispose]();
  ok(published.every((samples) => samples.length === 1));
});
