/**
 * Turns a user's `--search` text into an FTS5 MATCH expression that cannot be an FTS5 syntax
 * error: every word and "phrase" is quoted, only AND/OR/NOT, parentheses and a trailing `*` keep
 * their meaning, and anything else is searched literally. Pure: no I/O.
 * @module
 */
import { InvalidInputError } from "../core/errors.ts";

/** Longest search text accepted, in characters. */
export const MAX_SEARCH_LENGTH = 1_000;
/** Most words and phrases in one search. */
export const MAX_SEARCH_TERMS = 32;

type Token =
  | { readonly kind: "term"; readonly text: string; readonly isPrefix: boolean }
  | { readonly kind: "op"; readonly op: "AND" | "OR" | "NOT" }
  | { readonly kind: "open" }
  | { readonly kind: "close" };

/**
 * The FTS5 expression for `search`: words (`timeout`), "exact phrases", prefixes (`conn*`),
 * `AND` (the default between terms), `OR`, `NOT` (`a NOT b`) and parentheses.
 *
 * @throws {InvalidInputError} (field `search`) for unbalanced parentheses, an operator without
 * its operands, no searchable word, or text over {@link MAX_SEARCH_LENGTH} characters.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(buildFtsQuery('timeout "user alice" conn*'), '"timeout" AND "user alice" AND "conn"*');
 * equal(buildFtsQuery("a OR b NOT c"), '"a" OR "b" NOT "c"');
 * equal(buildFtsQuery("message:x NEAR(y)"), '"message:x" AND "NEAR" AND ( "y" )');
 * ```
 */
export function buildFtsQuery(search: string): string {
  if (search.length > MAX_SEARCH_LENGTH) {
    throw invalid(`it is longer than ${MAX_SEARCH_LENGTH} characters`);
  }
  const tokens = tokenize(search);
  const terms = tokens.filter((t) => t.kind === "term").length;
  if (terms === 0) throw invalid("it has no word to search for");
  if (terms > MAX_SEARCH_TERMS) throw invalid(`it has more than ${MAX_SEARCH_TERMS} terms`);
  const parser = new Parser(tokens);
  const expression = parser.orExpression();
  if (!parser.isDone()) {
    throw invalid(parser.peek()?.kind === "close" ? 'unbalanced ")"' : "unexpected text");
  }
  return expression;
}

function invalid(why: string): InvalidInputError {
  return new InvalidInputError(`Invalid search: ${why}`, "search");
}

function tokenize(search: string): Token[] {
  const tokens: Token[] = [];
  // Control characters (NUL among them) are never part of a log word.
  // deno-lint-ignore no-control-regex
  const text = search.replace(/[\u0000-\u001f\u007f]/g, " ");
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " ") {
      i++;
    } else if (c === "(" || c === ")") {
      tokens.push({ kind: c === "(" ? "open" : "close" });
      i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw invalid('unbalanced "');
      const isPrefix = text[end + 1] === "*";
      tokens.push({ kind: "term", text: text.slice(i + 1, end), isPrefix });
      i = end + (isPrefix ? 2 : 1);
    } else {
      let end = i;
      while (end < text.length && !' ()"'.includes(text[end]!)) end++;
      const word = text.slice(i, end);
      i = end;
      if (word === "AND" || word === "OR" || word === "NOT") {
        tokens.push({ kind: "op", op: word });
      } else {
        const isPrefix = word.length > 1 && word.endsWith("*");
        tokens.push({ kind: "term", text: isPrefix ? word.slice(0, -1) : word, isPrefix });
      }
    }
  }
  return tokens;
}

/** FTS5's grammar: OR binds loosest, then AND (or nothing), then NOT. */
class Parser {
  #at = 0;
  constructor(readonly tokens: readonly Token[]) {}

  peek(): Token | undefined {
    return this.tokens[this.#at];
  }

  isDone(): boolean {
    return this.#at >= this.tokens.length;
  }

  orExpression(): string {
    let left = this.#andExpression();
    while (this.#isOp("OR")) {
      this.#at++;
      left = `${left} OR ${this.#andExpression()}`;
    }
    return left;
  }

  #andExpression(): string {
    let left = this.#notExpression();
    for (;;) {
      const next = this.peek();
      if (next === undefined || next.kind === "close" || this.#isOp("OR")) return left;
      if (this.#isOp("AND")) this.#at++;
      left = `${left} AND ${this.#notExpression()}`;
    }
  }

  #notExpression(): string {
    let left = this.#primary();
    while (this.#isOp("NOT")) {
      this.#at++;
      left = `${left} NOT ${this.#primary()}`;
    }
    return left;
  }

  #primary(): string {
    const token = this.peek();
    if (token === undefined) throw invalid("an operator or a term is missing at the end");
    this.#at++;
    switch (token.kind) {
      case "term":
        return `"${token.text.replaceAll('"', '""')}"${token.isPrefix ? "*" : ""}`;
      case "open": {
        const inner = this.orExpression();
        if (this.peek()?.kind !== "close") throw invalid('unbalanced "("');
        this.#at++;
        return `( ${inner} )`;
      }
      case "close":
        throw invalid('")" without a term before it');
      case "op":
        throw invalid(
          token.op === "NOT"
            ? 'NOT needs a term on each side ("a NOT b")'
            : `${token.op} needs a term on each side`,
        );
    }
  }

  #isOp(op: "AND" | "OR" | "NOT"): boolean {
    const token = this.peek();
    return token?.kind === "op" && token.op === op;
  }
}
