import { equal, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import { parseExpiry } from "./token_expiry.ts";

const NOW = Date.UTC(2026, 10, 29, 18, 0, 0);

Deno.test("parseExpiry() takes durations from now and ISO dates and times", () => {
  const cases: [string, number][] = [
    ["30d", NOW + 30 * 86_400_000],
    ["12h", NOW + 12 * 3_600_000],
    ["90m", NOW + 90 * 60_000],
    ["2w", NOW + 14 * 86_400_000],
    [" 1d ", NOW + 86_400_000],
    ["2027-01-31", Date.UTC(2027, 0, 31)],
    ["2027-01-31T12:30:00Z", Date.UTC(2027, 0, 31, 12, 30)],
    ["2027-01-31T12:30:00+02:00", Date.UTC(2027, 0, 31, 10, 30)],
  ];
  for (const [text, expected] of cases) equal(parseExpiry(text, NOW), expected, text);
});

Deno.test("parseExpiry() refuses garbage, zero durations and times in the past", () => {
  for (
    const text of ["", "30", "30x", "d30", "-1d", "tomorrow", "2027-13-45", "0d", "2020-01-01"]
  ) {
    throws(() => parseExpiry(text, NOW), InvalidInputError, text);
  }
});
