import { deepEqual, equal } from "node:assert/strict";
import { AddressMatcher, cidrProblem, parseCidr, parseIp } from "./cidr.ts";

Deno.test("parseIp() reads IPv4, IPv6 (compressed, embedded IPv4, zone) and rejects the rest", () => {
  const cases: [string, string | undefined][] = [
    ["127.0.0.1", "00000000000000000000ffff7f000001"],
    ["::1", "00000000000000000000000000000001"],
    ["::", "00000000000000000000000000000000"],
    ["fe80::1%eth0", "fe800000000000000000000000000001"],
    ["2001:db8::8:800:200c:417a", "20010db8000000000008080020 0c417a".replace(" ", "")],
    ["::ffff:10.0.0.1", "00000000000000000000ffff0a000001"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["1::2::3", undefined],
    ["1:2:3:4:5:6:7::8", undefined],
    ["12345::", undefined],
    ["10.0.0", undefined],
    ["10.0.0.01", undefined],
    ["10.0.0.1.2", undefined],
    ["[::1]", undefined],
    ["", undefined],
    ["localhost", undefined],
  ];
  for (const [text, hex] of cases) {
    const bytes = parseIp(text);
    equal(
      bytes === undefined
        ? undefined
        : [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
      hex,
      text,
    );
  }
});

Deno.test("parseCidr() masks host bits and maps IPv4 prefixes into the 128-bit space", () => {
  deepEqual(parseCidr("10.1.2.3/8"), parseCidr("10.0.0.0/8"));
  equal(parseCidr("0.0.0.0/0")?.prefixBits, 96);
  equal(parseCidr("::/0")?.prefixBits, 0);
  equal(parseCidr("fd00::/7")?.prefixBits, 7);
  equal(parseCidr("10.0.0.0/"), undefined);
  equal(parseCidr("10.0.0.0/08"), undefined);
  equal(parseCidr("::1/129"), undefined);
});

Deno.test("cidrProblem() explains what is wrong with a trusted_proxies entry", () => {
  equal(cidrProblem("10.0.0.0/8"), undefined);
  equal(cidrProblem("::1"), undefined);
  equal(cidrProblem("caddy.local"), "expected an IP address or CIDR range, not a host name");
  equal(cidrProblem("10.0.0.300"), "expected an IPv4 or IPv6 address, optionally with /prefix");
  equal(cidrProblem("::1/200"), "the prefix length must be from 0 to 128 for IPv6");
  equal(cidrProblem("fe80::1%eth0"), "a zone id (%...) is not allowed");
});

Deno.test("AddressMatcher matches ranges across IPv4, IPv4-mapped IPv6 and IPv6", () => {
  const trusted = new AddressMatcher(["127.0.0.1", "10.0.0.0/8", "172.16.0.0/12", "fd00::/8"]);
  const cases: [string, boolean][] = [
    ["127.0.0.1", true],
    ["127.0.0.2", false],
    ["::ffff:127.0.0.1", true],
    ["10.255.255.255", true],
    ["172.31.0.1", true],
    ["172.32.0.1", false],
    ["fd00::5", true],
    ["fe00::5", false],
    ["::1", false],
    ["", false],
  ];
  for (const [ip, expected] of cases) equal(trusted.matches(ip), expected, ip);
  equal(new AddressMatcher([]).matches("127.0.0.1"), false);
  equal(new AddressMatcher([]).isEmpty, true);
  equal(new AddressMatcher(["0.0.0.0/0"]).matches("8.8.8.8"), true);
  equal(new AddressMatcher(["0.0.0.0/0"]).matches("2001:db8::1"), false);
});

Deno.test("AddressMatcher.clientOf() takes the rightmost untrusted X-Forwarded-For entry", () => {
  const trusted = new AddressMatcher(["127.0.0.1", "10.0.0.0/8"]);
  const cases: [string | null, string][] = [
    [null, "127.0.0.1"],
    ["", "127.0.0.1"],
    ["203.0.113.9", "203.0.113.9"],
    ["1.1.1.1, 203.0.113.9", "203.0.113.9"],
    ["1.1.1.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"],
    ["10.0.0.8, 10.0.0.7", "10.0.0.8"],
    ["forged, 10.0.0.7", "10.0.0.7"],
    ["1.1.1.1,203.0.113.9 ", "203.0.113.9"],
  ];
  for (const [xff, expected] of cases) {
    equal(trusted.clientOf("127.0.0.1", xff), expected, String(xff));
  }
});
