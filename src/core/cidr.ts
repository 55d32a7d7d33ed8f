/**
 * IP addresses and CIDR ranges (IPv4 and IPv6) for `trusted_proxies`: parsing, validation
 * messages, and matching an address against a list of ranges. IPv4 addresses are handled as
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so `127.0.0.1` also matches a peer the runtime reports as
 * `::ffff:127.0.0.1` on a dual-stack listener. Pure: no I/O.
 * @module
 */

/** An address as 16 bytes (IPv4 mapped into `::ffff:0:0/96`). */
export type IpBytes = Uint8Array;

/** A parsed range: the first `prefixBits` of `bytes` must match (bits past them are zero). */
export interface Cidr {
  readonly bytes: IpBytes;
  /** Prefix length in the 128-bit space (an IPv4 `/8` is 104). */
  readonly prefixBits: number;
}

const IPV4_MAPPED_PREFIX = 96;

/**
 * The address `text` as 16 bytes, or undefined when it is not a plain IPv4 or IPv6 address
 * (a zone id such as `%eth0` is ignored; brackets and ports are not accepted).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parseIp("10.0.0.1")?.at(-4), 10);
 * equal(parseIp("::1")?.at(-1), 1);
 * equal(parseIp("10.0.0.256"), undefined);
 * ```
 */
export function parseIp(text: string): IpBytes | undefined {
  if (text.includes(":")) return parseIpv6(text);
  const v4 = parseIpv4(text);
  if (v4 === undefined) return undefined;
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(v4, 12);
  return bytes;
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    // Decimal only, no leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out.push(value);
  }
  return out;
}

function parseIpv6(input: string): IpBytes | undefined {
  const zone = input.indexOf("%");
  let text = zone === -1 ? input : input.slice(0, zone);
  // An embedded IPv4 tail ("::ffff:10.0.0.1") becomes two hex groups.
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const high = ((v4[0]! << 8) | v4[1]!).toString(16);
    const low = ((v4[2]! << 8) | v4[3]!).toString(16);
    text = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves.length === 1 || halves[1] === "" ? [] : halves[1]!.split(":");
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [
    ...head,
    ...new Array<string>(halves.length === 1 ? 0 : missing).fill("0"),
    ...tail,
  ];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const group = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  }
  return bytes;
}

/**
 * Parses `"10.0.0.0/8"`, `"fd00::/8"` or a bare address (a range of one). Host bits past the
 * prefix are ignored.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parseCidr("10.0.0.0/8")?.prefixBits, 104);
 * equal(parseCidr("::1")?.prefixBits, 128);
 * equal(parseCidr("10.0.0.0/33"), undefined);
 * ```
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes("%")) return undefined;
  const bytes = parseIp(addressText);
  if (bytes === undefined) return undefined;
  const isV4 = !addressText.includes(":");
  const maxBits = isV4 ? 32 : 128;
  let bits = maxBits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
    bits = Number(prefixText);
    if (bits > maxBits) return undefined;
  }
  const prefixBits = isV4 ? IPV4_MAPPED_PREFIX + bits : bits;
  return { bytes: maskBytes(bytes, prefixBits), prefixBits };
}

function maskBytes(bytes: IpBytes, prefixBits: number): IpBytes {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bitsHere = Math.min(8, Math.max(0, prefixBits - i * 8));
    out[i] = bytes[i]! & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

/**
 * Why `text` is not an address or CIDR range, or undefined when it is one.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(cidrProblem("127.0.0.1"), undefined);
 * equal(cidrProblem("10.0.0.0/40"), "the prefix length must be from 0 to 32 for IPv4");
 * ```
 */
export function cidrProblem(text: string): string | undefined {
  if (parseCidr(text) !== undefined) return undefined;
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes("%")) return "a zone id (%...) is not allowed";
  if (parseIp(addressText) === undefined) {
    return /^[0-9a-zA-Z.-]+$/.test(addressText) && /[g-zG-Z]/.test(addressText)
      ? "expected an IP address or CIDR range, not a host name"
      : "expected an IPv4 or IPv6 address, optionally with /prefix";
  }
  return addressText.includes(":")
    ? "the prefix length must be from 0 to 128 for IPv6"
    : "the prefix length must be from 0 to 32 for IPv4";
}

/** Whether `ip` lies in `cidr`. */
export function isInCidr(ip: IpBytes, cidr: Cidr): boolean {
  const full = cidr.prefixBits >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== cidr.bytes[i]) return false;
  const rest = cidr.prefixBits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[full]! & mask) === cidr.bytes[full];
}

/**
 * The key a per-client limit counts `ip` under: an IPv4 address as it is, an IPv6 address by
 * its /64 (one subscriber's network: a host there can pick any of 2^64 addresses), anything
 * else as it is.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(clientKeyOf("203.0.113.7"), "203.0.113.7");
 * equal(clientKeyOf("::ffff:203.0.113.7"), "::ffff:203.0.113.7");
 * equal(clientKeyOf("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
 * equal(clientKeyOf("2001:DB8:1:2::99"), "2001:db8:1:2::/64");
 * ```
 */
export function clientKeyOf(ip: string): string {
  if (!ip.includes(":") || ip.startsWith("::ffff:")) return ip;
  const bytes = parseIp(ip);
  if (bytes === undefined) return ip;
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `${groups.join(":")}::/64`;
}

/** Answers whether an address is in any of a fixed list of ranges. */
export class AddressMatcher {
  readonly #cidrs: readonly Cidr[];

  /** `ranges` must be valid (see {@linkcode cidrProblem}); invalid ones are skipped. */
  constructor(ranges: readonly string[]) {
    this.#cidrs = ranges.map(parseCidr).filter((cidr): cidr is Cidr => cidr !== undefined);
  }

  /** No ranges: nothing matches. */
  get isEmpty(): boolean {
    return this.#cidrs.length === 0;
  }

  /**
   * Whether address `text` is in one of the ranges; false for anything that is not an address.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * const trusted = new AddressMatcher(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
   * equal(trusted.matches("10.1.2.3"), true);
   * equal(trusted.matches("::ffff:127.0.0.1"), true);
   * equal(trusted.matches("fd12::1"), true);
   * equal(trusted.matches("11.0.0.1"), false);
   * equal(trusted.matches("not an address"), false);
   * ```
   */
  matches(text: string): boolean {
    if (this.#cidrs.length === 0) return false;
    const ip = parseIp(text);
    return ip !== undefined && this.#cidrs.some((cidr) => isInCidr(ip, cidr));
  }

  /**
   * The client address behind a trusted peer: `forwardedFor` (an `X-Forwarded-For` value, each
   * proxy appending its peer) read from the right, skipping trusted addresses; the first
   * untrusted one is the client. When every entry is trusted, the leftmost; when an entry is
   * not an address (the chain is broken there), the last trusted one before it; without
   * entries, `peer`.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * const trusted = new AddressMatcher(["127.0.0.1", "10.0.0.0/8"]);
   * equal(trusted.clientOf("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.2"), "203.0.113.9");
   * equal(trusted.clientOf("127.0.0.1", "junk, 10.0.0.2"), "10.0.0.2");
   * equal(trusted.clientOf("127.0.0.1", null), "127.0.0.1");
   * ```
   */
  clientOf(peer: string, forwardedFor: string | null): string {
    if (forwardedFor === null) return peer;
    let client = peer;
    const entries = forwardedFor.split(",");
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!.trim();
      if (entry === "") continue;
      if (parseIp(entry) === undefined) return client;
      client = entry;
      if (!this.matches(entry)) return entry;
    }
    return client;
  }
}
