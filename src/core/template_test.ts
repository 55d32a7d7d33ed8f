import { equal } from "node:assert/strict";
import { interpolate, type TemplateVars } from "./template.ts";

const VARS: TemplateVars = {
  name: "notes",
  id: "alice",
  data_dir: "./data",
  port: 30001,
  socket: "/run/notes-alice.sock",
};

Deno.test("interpolate() expands every known placeholder", () => {
  const cases: [string, string][] = [
    ["{name}", "notes"],
    ["{id}", "alice"],
    ["{data_dir}", "./data"],
    ["{port}", "30001"],
    ["{socket}", "/run/notes-alice.sock"],
    ["{data_dir}/{name}/{id}", "./data/notes/alice"],
    ["--port {port} --port={port}", "--port 30001 --port=30001"],
    ["plain text", "plain text"],
    ["", ""],
  ];
  for (const [text, expected] of cases) equal(interpolate(text, VARS), expected, text);
});

Deno.test("interpolate() leaves unknown or malformed placeholders as is", () => {
  equal(interpolate("{unknown} {NAME} { name } {name", VARS), "{unknown} {NAME} { name } {name");
  equal(interpolate("{{name}}", VARS), "{notes}");
  equal(interpolate("${HOME}", VARS), "${HOME}");
});

Deno.test("interpolate() expands {port} to empty without a port and keeps {socket} without a socket", () => {
  const vars: TemplateVars = { name: "api", id: "v1", data_dir: "/d" };
  equal(interpolate("{data_dir}/run/{name}-{id}.sock", vars), "/d/run/api-v1.sock");
  equal(interpolate("port={port} socket={socket}", vars), "port= socket={socket}");
});

Deno.test("interpolate() does not expand placeholders inside substituted values", () => {
  const vars: TemplateVars = { name: "{id}", id: "x", data_dir: "/d/{name}" };
  equal(interpolate("{data_dir}:{name}", vars), "/d/{name}:{id}");
});
