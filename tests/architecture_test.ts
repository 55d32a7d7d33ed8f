/**
 * Architecture rules of STYLE.md, checked against the source: the allowed import directions
 * (§2), named exports only (§3.1), no `console` outside `cli/output.ts` (§3.6), a pure `core/`
 * (§3.2) and no computed dynamic imports (§3.9, compile safety).
 *
 * The scanner strips comments (doc examples import `node:assert/strict`) and blanks string,
 * template and regex contents before it looks for code, so text inside messages never counts.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

// --- Scanning ----------------------------------------------------------------------------------

/** `code`: comments blanked. `bare`: comments and literal contents blanked. Same offsets. */
interface Stripped {
  readonly code: string;
  readonly bare: string;
}

const REGEX_AFTER_WORDS = new Set([
  "return",
  "typeof",
  "instanceof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "yield",
  "await",
]);

/** Blanks comments (both copies) and string/template/regex contents (`bare` only). */
function stripSource(text: string): Stripped {
  const code = [...text];
  const bare = [...text];
  const n = code.length;
  const blank = (chars: string[], from: number, to: number): void => {
    for (let k = from; k < to && k < n; k++) if (chars[k] !== "\n") chars[k] = " ";
  };
  /** Brace depth to return to when the `${` of an enclosing template closes. */
  const templateDepths: number[] = [];
  let depth = 0;
  /** The last significant token: one punctuator character or a whole word. */
  let prev = "";

  /** Scans template text from `start`; returns the index after the closing backtick or `${`. */
  const scanTemplate = (start: number): number => {
    let j = start;
    while (j < n) {
      const c = code[j];
      if (c === "\\") {
        j += 2;
        continue;
      }
      if (c === "`") {
        blank(bare, start, j);
        prev = "`";
        return j + 1;
      }
      if (c === "$" && code[j + 1] === "{") {
        blank(bare, start, j);
        templateDepths.push(depth);
        depth++;
        prev = "{";
        return j + 2;
      }
      j++;
    }
    blank(bare, start, n);
    return n;
  };

  let i = 0;
  while (i < n) {
    const c = code[i]!;
    const next = code[i + 1];
    if (c === "/" && next === "/") {
      let end = i;
      while (end < n && code[end] !== "\n") end++;
      blank(code, i, end);
      blank(bare, i, end);
      i = end;
      continue;
    }
    if (c === "/" && next === "*") {
      let end = i + 2;
      while (end < n && !(code[end] === "*" && code[end + 1] === "/")) end++;
      end = Math.min(n, end + 2);
      blank(code, i, end);
      blank(bare, i, end);
      i = end;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && code[j] !== c && code[j] !== "\n") j += code[j] === "\\" ? 2 : 1;
      blank(bare, i + 1, j);
      i = j + 1;
      prev = '"';
      continue;
    }
    if (c === "`") {
      i = scanTemplate(i + 1);
      continue;
    }
    if (
      c === "/" &&
      (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev) || REGEX_AFTER_WORDS.has(prev))
    ) {
      let j = i + 1;
      let isInClass = false;
      while (j < n && code[j] !== "\n") {
        const r = code[j];
        if (r === "\\") {
          j += 2;
          continue;
        }
        if (isInClass) {
          if (r === "]") isInClass = false;
        } else if (r === "[") {
          isInClass = true;
        } else if (r === "/") {
          break;
        }
        j++;
      }
      if (j < n && code[j] === "/") {
        blank(bare, i + 1, j);
        i = j + 1;
        while (i < n && /[a-z]/.test(code[i]!)) i++;
        prev = "/re/";
        continue;
      }
    }
    if (c === "{") {
      depth++;
    } else if (c === "}") {
      depth--;
      if (templateDepths.length > 0 && templateDepths.at(-1) === depth) {
        templateDepths.pop();
        i = scanTemplate(i + 1);
        continue;
      }
    }
    if (/[\w$]/.test(c)) {
      let end = i;
      while (end < n && /[\w$]/.test(code[end]!)) end++;
      prev = code.slice(i, end).join("");
      i = end;
      continue;
    }
    if (!/\s/.test(c)) prev = c;
    i++;
  }
  return { code: code.join(""), bare: bare.join("") };
}

/** One import or re-export specifier found in code. */
interface ImportRef {
  readonly specifier: string;
  readonly isTypeOnly: boolean;
  readonly line: number;
}

/** What the scanner found in one file. */
interface FileScan {
  readonly imports: ImportRef[];
  /** Dynamic `import(` calls whose argument is not one string literal. */
  readonly computedImports: number[];
  readonly stripped: Stripped;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (text[k] === "\n") line++;
  return line;
}

/** True for `type X`-only clauses: `import type …`, `export type …`, `{ type A, type B }`. */
function isTypeOnlyClause(clause: string): boolean {
  const c = clause.trim();
  if (/^type\b/.test(c) && !/^type\s*(,|from\b)/.test(c)) return true;
  const braces = /^\{([^}]*)\}$/.exec(c);
  if (!braces) return false;
  const names = braces[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return names.length > 0 && names.every((s) => /^type\s/.test(s));
}

/** Finds static imports, re-exports, literal dynamic imports and computed dynamic imports. */
function scanSource(text: string): FileScan {
  const stripped = stripSource(text);
  const { code, bare } = stripped;
  const imports: ImportRef[] = [];
  const computedImports: number[] = [];
  const literalAt = (quote: number): string => {
    const end = bare.indexOf(code[quote]!, quote + 1);
    return code.slice(quote + 1, end);
  };

  // `… from "x"`: only module syntax puts a string right after the word `from`.
  for (const m of bare.matchAll(/(?<![\w$.])from\s*(["'])/g)) {
    const fromAt = m.index;
    const quote = fromAt + m[0].length - 1;
    const before = bare.slice(0, fromAt);
    const keyword = [...before.matchAll(/(?<![\w$.])(import|export)(?![\w$])/g)].at(-1);
    if (!keyword) continue;
    const clause = before.slice(keyword.index + keyword[0].length);
    imports.push({
      specifier: literalAt(quote),
      isTypeOnly: isTypeOnlyClause(clause),
      line: lineAt(code, fromAt),
    });
  }
  // `import "x"`: a side-effect import.
  for (const m of bare.matchAll(/(?<![\w$.])import\s*(["'])/g)) {
    const quote = m.index + m[0].length - 1;
    imports.push({ specifier: literalAt(quote), isTypeOnly: false, line: lineAt(code, m.index) });
  }
  // `import(…)`: a literal argument is an import like any other; anything else cannot be
  // followed by `deno compile` and is rejected.
  for (const m of bare.matchAll(/(?<![\w$.])import\s*\(/g)) {
    const after = code.slice(m.index + m[0].length);
    const literal = /^\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)'|`([^`$\\]*)`)\s*[,)]/.exec(after);
    const line = lineAt(code, m.index);
    if (!literal) {
      computedImports.push(line);
      continue;
    }
    const isInType = /\btypeof\s*$/.test(bare.slice(0, m.index));
    imports.push({
      specifier: literal[1] ?? literal[2] ?? literal[3]!,
      isTypeOnly: isInType,
      line,
    });
  }
  imports.sort((a, b) => a.line - b.line);
  return { imports, computedImports, stripped };
}

// --- The rules ---------------------------------------------------------------------------------

/**
 * What an import points at: `src/…` or another repo path for relative imports, `pkg:<name>` for
 * import-map packages, `node:<name>` for Node built-ins, `raw:<spec>` for anything else.
 */
function resolveTarget(fromPath: string, specifier: string): string {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return new URL(specifier, `file:///repo/${fromPath}`).pathname.slice("/repo/".length);
  }
  if (specifier.startsWith("node:")) return specifier;
  if (/^[a-z]+:/i.test(specifier) || specifier.startsWith("/")) return `raw:${specifier}`;
  const parts = specifier.split("/");
  return `pkg:${specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]}`;
}

/** The rule area of a file: its folder under src/, or the top-level file itself. */
function areaOf(path: string): string {
  const m = /^src\/([^/]+)\//.exec(path);
  if (m) return `${m[1]}/`;
  return path.startsWith("src/") ? path.slice("src/".length) : path;
}

/** One allowed edge. `to` is a folder (ends in "/"), a file, `pkg:<name>` or `node:<name>`. */
interface Allow {
  readonly to: string;
  /** Only `import type` (or all-`type` named imports) may use this edge. */
  readonly isTypesOnly?: true;
  /** Only this one file of the area may use this edge. */
  readonly onlyFrom?: string;
}

const LOGTAPE: Allow = { to: "pkg:@logtape/logtape" };

/** Folders every edge module may use: core, and config types. */
const EDGE: Allow[] = [
  { to: "src/core/" },
  { to: "src/config/", isTypesOnly: true },
  // STYLE.md, logging.ts row: every module but core/ calls getLogger from @logtape/logtape.
  LOGTAPE,
];

/**
 * STYLE.md §2 "Allowed import directions", area by area. Every area may import its own files
 * (the table lists files such as supervisor/keyed_lock.ts and api/routes/*.ts under one folder).
 * Each deliberate deviation of the project from the table carries a comment saying so.
 */
const RULES: Readonly<Record<string, readonly Allow[]>> = {
  "core/": [{ to: "src/core/" }],
  "config/": [{ to: "src/core/" }, { to: "src/config/" }, { to: "pkg:smol-toml" }, LOGTAPE],
  // As the table says: config/ types (process_group.ts takes `Isolation`, storage_meter.ts the
  // `Config`), and @logtape/logtape per the logging.ts row.
  "runtime/": [{ to: "src/runtime/" }, ...EDGE],
  "store/": [{ to: "src/store/" }, ...EDGE],
  // STYLE.md §2 has logs/log_db.ts open node:sqlite; it is the one built-in an edge may use.
  "logs/": [{ to: "src/logs/" }, { to: "node:sqlite" }, ...EDGE],
  "metrics/": [{ to: "src/metrics/" }, ...EDGE],
  "tls/": [
    { to: "src/tls/" },
    ...EDGE,
    // acme_issuer.ts is the one file that speaks ACME: acme-client, and node:https/node:tls for
    // the extra roots of the ACME server's own HTTPS (acme-client's axios uses node:https).
    { to: "pkg:acme-client", onlyFrom: "src/tls/acme_issuer.ts" },
    { to: "node:https", onlyFrom: "src/tls/acme_issuer.ts" },
    { to: "node:tls", onlyFrom: "src/tls/acme_issuer.ts" },
    // Keys and certificates are written like the token file: one atomic private-file writer.
    { to: "src/store/private_files.ts", onlyFrom: "src/tls/atomic_file.ts" },
  ],
  "supervisor/": [
    { to: "src/supervisor/" },
    { to: "src/core/" },
    { to: "src/config/" },
    // The proxy owns the `Target`/`TargetResolver` interface it consumes; the supervisor
    // satisfies it, so it takes those types (never values) from proxy/target.ts.
    { to: "src/proxy/target.ts", isTypesOnly: true },
    // Deviation: the supervisor logs lifecycle events itself through @logtape/logtape.
    LOGTAPE,
  ],
  "proxy/": [
    { to: "src/proxy/" },
    { to: "src/core/" },
    // The table's "metrics/ types": the proxy takes the registry type and is handed the object.
    { to: "src/metrics/registry.ts", isTypesOnly: true },
    // HTTPS: the front and the redirect listener take the certificate manager's seams
    // (`SniResolver`, `ChallengeResponder`) as types from tls/tls_types.ts and are handed the
    // object, as with the metrics registry.
    { to: "src/tls/tls_types.ts", isTypesOnly: true },
    // Deviation: the proxy logs upstream failures through @logtape/logtape.
    LOGTAPE,
  ],
  // Deviation, stricter than the table: api/ owns narrow interfaces (api/api_ports.ts) for the
  // instance control, token, audit and log sources it uses; the supervisor, the state store and
  // the log ring satisfy them and the daemon hands them in. So api/ imports neither supervisor/
  // nor logs/, and from store/ only the token hashing helpers and the stored record types.
  "api/": [
    { to: "src/api/" },
    { to: "src/core/" },
    { to: "src/config/" },
    { to: "src/store/tokens.ts" },
    { to: "src/store/state_store.ts", isTypesOnly: true },
    { to: "src/metrics/" },
    // `ten certs` and the expiry metric read certificate status, types only.
    { to: "src/tls/tls_types.ts", isTypesOnly: true },
    LOGTAPE,
  ],
  "dashboard/": [
    { to: "src/dashboard/" },
    // The chart library's files, embedded as text (served to the browser, never run here).
    { to: "pkg:uplot", onlyFrom: "src/dashboard/dashboard_handler.ts" },
    LOGTAPE,
  ],
  "daemon/": [
    ...[
      "core/",
      "config/",
      "runtime/",
      "store/",
      "logs/",
      "metrics/",
      "tls/",
      "supervisor/",
      "proxy/",
      "api/",
      "dashboard/",
      "daemon/",
    ].map((to) => ({ to: `src/${to}` })),
    { to: "src/logging.ts" },
    LOGTAPE,
  ],
  "cli/": [
    { to: "src/cli/" },
    { to: "src/core/" },
    { to: "src/config/" },
    // Deviation (table lists these as types): the wire types shared with the server, types only.
    { to: "src/api/wire.ts", isTypesOnly: true },
    { to: "src/api/http_error.ts", isTypesOnly: true },
    { to: "src/daemon/", onlyFrom: "src/cli/commands/serve.ts" },
    // Deviation: `ten token-gen` writes the token hash into the store directly (no daemon needs
    // to be running), so this one command may import store/.
    { to: "src/store/", onlyFrom: "src/cli/commands/token_gen.ts" },
    // Deviation: the CLI sets up logging sinks (the table allows cli/ to import logging.ts).
    { to: "src/logging.ts" },
    LOGTAPE,
    // Not in the table's cli/ row, but STYLE.md §2 and §3.6 build the CLI as a commander program.
    { to: "pkg:commander" },
    { to: "pkg:@commander-js/extra-typings" },
  ],
  // logging.ts sets up logtape and imports nothing else; only daemon/ and cli/ import it.
  "logging.ts": [LOGTAPE],
  "main.ts": [{ to: "src/cli/run_cli.ts" }],
};

function isMatch(allow: Allow, target: string): boolean {
  return allow.to.endsWith("/") ? target.startsWith(allow.to) : target === allow.to;
}

/** Says why importing `ref` from `fromPath` breaks the table, or undefined when it is allowed. */
function importProblem(fromPath: string, ref: ImportRef): string | undefined {
  const target = resolveTarget(fromPath, ref.specifier);
  const shown = `${fromPath}:${ref.line} imports "${ref.specifier}"`;
  if (target.startsWith("raw:")) {
    return `${shown}: name dependencies once in deno.json "imports" and import them by name`;
  }
  const rules = RULES[areaOf(fromPath)];
  if (!rules) return `${shown}: "${areaOf(fromPath)}" has no row in the import table`;
  const matching = rules.filter((a) =>
    isMatch(a, target) && (a.onlyFrom === undefined || a.onlyFrom === fromPath)
  );
  if (matching.length === 0) {
    return `${shown} (${target}): ${areaOf(fromPath)} may not import it`;
  }
  if (!ref.isTypeOnly && matching.every((a) => a.isTypesOnly)) {
    return `${shown} (${target}): ${
      areaOf(fromPath)
    } may import only types from it (use import type)`;
  }
  return undefined;
}

// --- The source tree ---------------------------------------------------------------------------

interface SourceFile {
  /** Repo-relative, e.g. `src/core/errors.ts`. */
  readonly path: string;
  readonly text: string;
  readonly scan: FileScan;
}

async function listSources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await listSources(`${path}/`));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry.name) && !/_test\.\w+$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out.sort();
}

async function readSources(): Promise<SourceFile[]> {
  const paths = [...await listSources("src/"), "main.ts"];
  return await Promise.all(paths.map(async (path) => {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    return { path, text, scan: scanSource(text) };
  }));
}

const SOURCES = await readSources();
const SRC = SOURCES.filter((f) => f.path.startsWith("src/"));

/** `path:line: what` for every match of `pattern` in the literal-free code of `files`. */
function findInCode(files: readonly SourceFile[], pattern: RegExp, what: string): string[] {
  const found: string[] = [];
  for (const f of files) {
    for (const m of f.scan.stripped.bare.matchAll(pattern)) {
      found.push(`${f.path}:${lineAt(f.scan.stripped.bare, m.index)}: ${what} (${m[0].trim()})`);
    }
  }
  return found;
}

// --- Tests of the tree -------------------------------------------------------------------------

Deno.test("architecture: the scan covers the whole source tree", () => {
  ok(SRC.length >= 40, `only ${SRC.length} files under src/`);
  for (const f of SOURCES) {
    // Lines that begin an import or re-export with `from "…"` on the same line are a lower
    // bound for what the scanner must find; a scanner that loses code fails here.
    const simple = f.text.match(/^(import|export)\b[^\n]*\bfrom\s*["']/gm)?.length ?? 0;
    ok(f.scan.imports.length >= simple, `${f.path}: found ${f.scan.imports.length} < ${simple}`);
  }
  const edges = SOURCES.flatMap((f) =>
    f.scan.imports.map((i) => `${f.path} -> ${resolveTarget(f.path, i.specifier)}`)
  );
  ok(edges.includes("main.ts -> src/cli/run_cli.ts"), "main.ts import not found");
  ok(edges.length >= 100, `only ${edges.length} imports found`);
});

Deno.test("architecture: every import in src/ follows the allowed import directions", () => {
  const problems: string[] = [];
  for (const f of SOURCES) {
    for (const ref of f.scan.imports) {
      const problem = importProblem(f.path, ref);
      if (problem !== undefined) problems.push(problem);
    }
  }
  deepEqual(problems, []);
});

Deno.test("architecture: logging.ts is imported only by daemon/ and cli/", () => {
  const importers = SOURCES.filter((f) =>
    f.scan.imports.some((i) => resolveTarget(f.path, i.specifier) === "src/logging.ts")
  ).map((f) => f.path);
  deepEqual(importers.filter((p) => !/^src\/(daemon|cli)\//.test(p)), []);
});

Deno.test("architecture: src/ has no computed dynamic import", () => {
  const computed = SRC.flatMap((f) => f.scan.computedImports.map((line) => `${f.path}:${line}`));
  deepEqual(computed, []);
});

Deno.test("architecture: src/ uses named exports only", () => {
  deepEqual(findInCode(SRC, /(?<![\w$.])export\s+default\b/g, "default export"), []);
});

Deno.test("architecture: only src/cli/output.ts writes to the console", () => {
  const files = SRC.filter((f) => f.path !== "src/cli/output.ts");
  deepEqual(findInCode(files, /(?<![\w$])console\b/g, "console"), []);
});

Deno.test("architecture: src/core does no I/O and takes time and randomness as arguments", () => {
  const core = SRC.filter((f) => f.path.startsWith("src/core/"));
  ok(core.length >= 10, `only ${core.length} core files`);
  const found = [
    ...findInCode(core, /(?<![\w$])Deno\b/g, "Deno API"),
    ...findInCode(core, /(?<![\w$])fetch\s*\(/g, "fetch"),
    ...findInCode(core, /(?<![\w$])Date\s*\.\s*now\b/g, "clock"),
    // STYLE.md §3.2 also rules out the other ways of reading the clock or making randomness.
    ...findInCode(core, /(?<![\w$])new\s+Date\s*\(\s*\)/g, "clock"),
    ...findInCode(core, /(?<![\w$])performance\s*\.\s*now\b/g, "clock"),
    ...findInCode(core, /(?<![\w$])Math\s*\.\s*random\b/g, "randomness"),
    ...findInCode(core, /(?<![\w$])crypto\s*\.\s*(getRandomValues|randomUUID)\b/g, "randomness"),
    ...findInCode(core, /(?<![\w$])(setTimeout|setInterval)\b/g, "timer"),
  ];
  deepEqual(found, []);
});

// --- Tests of the checker itself, so a green run means something -------------------------------

Deno.test("architecture scanner reads real imports and ignores comments and literals", () => {
  const text = [
    "/** Doc example:",
    " * ```ts",
    ' * import { equal } from "node:assert/strict";',
    " * ```",
    " */",
    '// import { gone } from "../daemon/daemon.ts";',
    'import { a } from "./a.ts";',
    "import {",
    "  b,",
    "  type B,",
    '} from "../core/b.ts";',
    'import type { C } from "../config/schema.ts";',
    'import { type D, type E } from "../supervisor/supervisor.ts";',
    "import * as f from './f.ts';",
    'import "./side_effect.ts";',
    'export { g } from "./g.ts";',
    'export * from "./h.ts";',
    'export type { I } from "./i.ts";',
    'const message = `copy from "${a}" and import("x") ${`nested from "y"`}`;',
    "const text = 'import { z } from \"../cli/run_cli.ts\"';",
    "const re = /from \"q\"|\\/\\//g; // import { r } from './r.ts'",
    "const ratio = 4 / 2; const other = 6 / 3;",
    'type Lazy = typeof import("./lazy.ts");',
    'const later = await import("./later.ts");',
    "const computed = await import(`./${name}.ts`);",
    "const computed2 = await import(moduleName);",
    "export default 1;",
    "console.log(message, 'console.x');",
  ].join("\n");
  const scan = scanSource(text);
  deepEqual(
    scan.imports.map((i) => [i.specifier, i.isTypeOnly, i.line]),
    [
      ["./a.ts", false, 7],
      ["../core/b.ts", false, 11],
      ["../config/schema.ts", true, 12],
      ["../supervisor/supervisor.ts", true, 13],
      ["./f.ts", false, 14],
      ["./side_effect.ts", false, 15],
      ["./g.ts", false, 16],
      ["./h.ts", false, 17],
      ["./i.ts", true, 18],
      ["./lazy.ts", true, 23],
      ["./later.ts", false, 24],
    ],
  );
  deepEqual(scan.computedImports, [25, 26]);
  const file: SourceFile = { path: "src/x/y.ts", text, scan };
  deepEqual(findInCode([file], /(?<![\w$.])export\s+default\b/g, "default export"), [
    "src/x/y.ts:27: default export (export default)",
  ]);
  deepEqual(findInCode([file], /(?<![\w$])console\b/g, "console"), [
    "src/x/y.ts:28: console (console)",
  ]);
});

Deno.test("architecture rules reject edges the table forbids", async (t) => {
  const value = (specifier: string): ImportRef => ({ specifier, isTypeOnly: false, line: 1 });
  const type = (specifier: string): ImportRef => ({ specifier, isTypeOnly: true, line: 1 });
  const cases: [from: string, ref: ImportRef, isAllowed: boolean][] = [
    ["src/core/a.ts", value("./b.ts"), true],
    ["src/core/a.ts", value("@logtape/logtape"), false],
    ["src/core/a.ts", type("../config/schema.ts"), false],
    ["src/core/a.ts", value("node:fs"), false],
    ["src/config/parse_config.ts", value("smol-toml"), true],
    ["src/config/parse_config.ts", value("../supervisor/ports.ts"), false],
    ["src/runtime/x.ts", type("../config/schema.ts"), true],
    ["src/runtime/x.ts", value("../config/schema.ts"), false],
    ["src/runtime/x.ts", type("../supervisor/ports.ts"), false],
    ["src/store/x.ts", value("../logging.ts"), false],
    ["src/logs/log_db.ts", value("node:sqlite"), true],
    ["src/metrics/x.ts", value("../proxy/front_server.ts"), false],
    ["src/supervisor/supervisor.ts", value("./keyed_lock.ts"), true],
    ["src/supervisor/supervisor.ts", value("../runtime/process_group.ts"), false],
    ["src/supervisor/supervisor.ts", value("../store/state_store.ts"), false],
    ["src/proxy/p.ts", type("../supervisor/supervisor.ts"), false],
    ["src/supervisor/supervisor.ts", type("../proxy/target.ts"), true],
    ["src/supervisor/supervisor.ts", value("../proxy/target.ts"), false],
    ["src/supervisor/supervisor.ts", type("../proxy/front_server.ts"), false],
    ["src/proxy/p.ts", value("../supervisor/supervisor.ts"), false],
    ["src/proxy/p.ts", type("../supervisor/ports.ts"), false],
    ["src/proxy/p.ts", value("../metrics/registry.ts"), false],
    ["src/proxy/p.ts", value("../api/http_error.ts"), false],
    ["src/api/routes/x.ts", type("../../supervisor/instance_entry.ts"), false],
    ["src/api/routes/x.ts", type("../../supervisor/supervisor.ts"), false],
    ["src/api/routes/x.ts", value("../../supervisor/supervisor.ts"), false],
    ["src/api/routes/x.ts", type("../../logs/log_ring.ts"), false],
    ["src/api/routes/x.ts", value("../../store/tokens.ts"), true],
    ["src/api/auth.ts", type("../store/state_store.ts"), true],
    ["src/api/auth.ts", value("../store/state_store.ts"), false],
    ["src/api/routes/x.ts", value("../../runtime/probe.ts"), false],
    ["src/api/routes/x.ts", value("../../cli/output.ts"), false],
    ["src/dashboard/d.ts", value("../core/format.ts"), false],
    ["src/daemon/daemon.ts", value("../runtime/process_group.ts"), true],
    ["src/daemon/daemon.ts", value("../cli/output.ts"), false],
    ["src/cli/commands/serve.ts", value("../../daemon/daemon.ts"), true],
    ["src/cli/commands/ps.ts", value("../../daemon/daemon.ts"), false],
    ["src/cli/commands/token_gen.ts", value("../../store/state_store.ts"), true],
    ["src/cli/commands/ps.ts", value("../../store/state_store.ts"), false],
    ["src/cli/commands/ps.ts", type("../../api/wire.ts"), true],
    ["src/cli/commands/ps.ts", value("../../api/wire.ts"), false],
    ["src/cli/commands/ps.ts", type("../../api/router.ts"), false],
    ["src/cli/run_cli.ts", value("../logging.ts"), true],
    ["src/cli/run_cli.ts", value("commander"), true],
    ["src/logging.ts", value("@logtape/logtape"), true],
    ["src/logging.ts", value("./core/errors.ts"), false],
    ["src/proxy/p.ts", value("../logging.ts"), false],
    ["src/api/x.ts", value("npm:hono@4"), false],
    ["src/daemon/x.ts", value("https://deno.land/x/y.ts"), false],
    ["src/core/x.ts", value("../../testkit/mod.ts"), false],
    ["src/daemon/x.ts", value("../../testkit/mod.ts"), false],
    ["src/new_thing.ts", value("./core/errors.ts"), false],
    ["main.ts", value("./src/cli/run_cli.ts"), true],
    ["main.ts", value("./src/daemon/daemon.ts"), false],
  ];
  for (const [from, ref, isAllowed] of cases) {
    await t.step(`${from} -> ${ref.specifier}${ref.isTypeOnly ? " (type)" : ""}`, () => {
      equal(importProblem(from, ref) === undefined, isAllowed, importProblem(from, ref));
    });
  }
});
