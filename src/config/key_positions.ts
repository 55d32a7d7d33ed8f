/**
 * Maps dotted key paths in a TOML text (`service.notes.idle_timeout`, `service.x.mounts[0].source`)
 * to the line and column where they are written, because the TOML parser reports no positions for
 * keys. Best-effort: it assumes the text already parsed, and never throws. Pure: no I/O.
 * @module
 */

/** One step of a key path: a table key, or an index into an array. */
export type KeySegment = string | number;

/** A 1-based line and column (in UTF-16 code units, like the TOML parser's errors). */
export interface KeyPosition {
  readonly line: number;
  readonly column: number;
}

/** Formatted key path → where it is first written. */
export type KeyPositionIndex = ReadonlyMap<string, KeyPosition>;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Formats a key path the way messages show it: bare keys joined by dots, other keys quoted,
 * array indexes in brackets.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(formatKeyPath(["service", "x", "mounts", 0, "source"]), "service.x.mounts[0].source");
 * equal(formatKeyPath(["service", "x", "env", "A.B"]), 'service.x.env."A.B"');
 * ```
 */
export function formatKeyPath(segments: readonly KeySegment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = BARE_KEY.test(segment) ? segment : JSON.stringify(segment);
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

/**
 * Where `segments` is written; falls back to the nearest enclosing table or key that is, then to
 * line 1, column 1.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const index = indexKeyPositions("[service.notes]\ncommand = 'x'\n");
 * deepEqual(findKeyPosition(index, ["service", "notes", "command"]), { line: 2, column: 1 });
 * deepEqual(findKeyPosition(index, ["service", "notes", "health"]), { line: 1, column: 1 });
 * ```
 */
export function findKeyPosition(
  index: KeyPositionIndex,
  segments: readonly KeySegment[],
): KeyPosition {
  for (let length = segments.length; length > 0; length--) {
    const found = index.get(formatKeyPath(segments.slice(0, length)));
    if (found !== undefined) return found;
  }
  return { line: 1, column: 1 };
}

/**
 * Scans TOML text and records where every table header, key, inline-table key and array element
 * is written. Explicit definitions win over tables implied by a longer header or dotted key.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const index = indexKeyPositions('[service.api]\nenv = { A = "1" }\n');
 * deepEqual(index.get("service.api.env.A"), { line: 2, column: 9 });
 * ```
 */
export function indexKeyPositions(text: string): KeyPositionIndex {
  return new Scanner(text).scan();
}

class Scanner {
  readonly #text: string;
  readonly #lineStarts: number[] = [0];
  readonly #positions = new Map<string, KeyPosition>();
  readonly #explicit = new Set<string>();
  /** Resolved array-of-tables path → how many `[[...]]` elements so far. */
  readonly #arrayCounts = new Map<string, number>();
  #at = 0;

  constructor(text: string) {
    this.#text = text;
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\n") this.#lineStarts.push(i + 1);
    }
  }

  scan(): KeyPositionIndex {
    let table: KeySegment[] = [];
    while (this.#skipBlank(true)) {
      const start = this.#at;
      if (this.#peek() === "[") table = this.#header();
      else this.#keyValue(table);
      this.#skipLine();
      if (this.#at === start) this.#at++;
    }
    return this.#positions;
  }

  #header(): KeySegment[] {
    const start = this.#at;
    const isArray = this.#text.startsWith("[[", this.#at);
    this.#at += isArray ? 2 : 1;
    const keys = this.#key();
    const path: KeySegment[] = [];
    keys.forEach((key, i) => {
      path.push(key);
      const resolved = formatKeyPath(path);
      const count = this.#arrayCounts.get(resolved);
      if (isArray && i === keys.length - 1) {
        this.#arrayCounts.set(resolved, (count ?? 0) + 1);
        path.push(count ?? 0);
      } else if (count !== undefined) {
        path.push(count - 1);
      }
    });
    this.#record(path, start);
    return path;
  }

  #keyValue(table: readonly KeySegment[]): void {
    const start = this.#at;
    const keys = this.#key();
    if (keys.length === 0) return;
    const path = [...table, ...keys];
    this.#record(path, start);
    this.#skipBlank(false);
    if (this.#peek() === "=") this.#at++;
    this.#skipBlank(false);
    this.#value(path);
  }

  /** Reads a possibly dotted, possibly quoted key; stops before `=`, `]` or anything else. */
  #key(): string[] {
    const keys: string[] = [];
    for (;;) {
      this.#skipBlank(false);
      const c = this.#peek();
      if (c === '"' || c === "'") keys.push(this.#quotedKey(c));
      else {
        const start = this.#at;
        while (this.#at < this.#text.length && /[A-Za-z0-9_-]/.test(this.#text[this.#at]!)) {
          this.#at++;
        }
        if (this.#at === start) return keys;
        keys.push(this.#text.slice(start, this.#at));
      }
      this.#skipBlank(false);
      if (this.#peek() !== ".") return keys;
      this.#at++;
    }
  }

  #quotedKey(quote: string): string {
    const start = this.#at;
    this.#skipString();
    const raw = this.#text.slice(start, this.#at);
    if (quote === "'") return raw.slice(1, -1);
    try {
      const decoded: unknown = JSON.parse(raw);
      return typeof decoded === "string" ? decoded : raw.slice(1, -1);
    } catch {
      return raw.slice(1, -1);
    }
  }

  #value(path: readonly KeySegment[]): void {
    const c = this.#peek();
    if (c === '"' || c === "'") this.#skipString();
    else if (c === "[") this.#array(path);
    else if (c === "{") this.#inlineTable(path);
    else {
      while (this.#at < this.#text.length && !",]}#\n".includes(this.#text[this.#at]!)) {
        this.#at++;
      }
    }
  }

  #array(path: readonly KeySegment[]): void {
    this.#at++;
    for (let index = 0; this.#skipBlank(true) && this.#peek() !== "]"; index++) {
      const start = this.#at;
      this.#record([...path, index], start);
      this.#value([...path, index]);
      this.#skipBlank(true);
      if (this.#peek() === ",") this.#at++;
      if (this.#at === start) this.#at++;
    }
    if (this.#peek() === "]") this.#at++;
  }

  #inlineTable(path: readonly KeySegment[]): void {
    this.#at++;
    while (this.#skipBlank(true) && this.#peek() !== "}") {
      const start = this.#at;
      this.#keyValue(path);
      this.#skipBlank(true);
      if (this.#peek() === ",") this.#at++;
      if (this.#at === start) this.#at++;
    }
    if (this.#peek() === "}") this.#at++;
  }

  /** Skips a basic, literal or multi-line string starting at the cursor. */
  #skipString(): void {
    const quote = this.#peek();
    const isMultiline = this.#text.startsWith(quote.repeat(3), this.#at);
    this.#at += isMultiline ? 3 : 1;
    while (this.#at < this.#text.length) {
      const c = this.#text[this.#at]!;
      if (c === "\\" && quote === '"') this.#at += 2;
      else if (!isMultiline && c === "\n") return;
      else if (isMultiline && this.#text.startsWith(quote.repeat(3), this.#at)) {
        this.#at += 3;
        // Up to two more quotes may belong to the content (`""""x""""` is valid).
        for (let extra = 0; extra < 2 && this.#peek() === quote; extra++) this.#at++;
        return;
      } else if (!isMultiline && c === quote) {
        this.#at++;
        return;
      } else this.#at++;
    }
  }

  /** Skips spaces, tabs and (when allowed) newlines and comments; false at end of text. */
  #skipBlank(acrossLines: boolean): boolean {
    while (this.#at < this.#text.length) {
      const c = this.#text[this.#at]!;
      if (c === " " || c === "\t" || c === "\r") this.#at++;
      else if (acrossLines && c === "\n") this.#at++;
      else if (acrossLines && c === "#") this.#skipLine();
      else return true;
    }
    return false;
  }

  /** Moves to the start of the next line. */
  #skipLine(): void {
    const end = this.#text.indexOf("\n", this.#at);
    this.#at = end < 0 ? this.#text.length : end + 1;
  }

  #peek(): string {
    return this.#text[this.#at] ?? "";
  }

  #record(path: readonly KeySegment[], offset: number): void {
    const position = this.#positionOf(offset);
    for (let length = 1; length <= path.length; length++) {
      const key = formatKeyPath(path.slice(0, length));
      const isExplicit = length === path.length;
      if (this.#explicit.has(key)) continue;
      if (isExplicit) {
        this.#explicit.add(key);
        this.#positions.set(key, position);
      } else if (!this.#positions.has(key)) {
        this.#positions.set(key, position);
      }
    }
  }

  #positionOf(offset: number): KeyPosition {
    let low = 0;
    let high = this.#lineStarts.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (this.#lineStarts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - this.#lineStarts[low]! + 1 };
  }
}
