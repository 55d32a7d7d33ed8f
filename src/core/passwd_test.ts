import { deepEqual } from "node:assert/strict";
import { parseGroups, parsePasswd } from "./passwd.ts";

Deno.test("parsePasswd() reads name, uid, primary gid and home, skipping what is not an entry", () => {
  const text = [
    "root:x:0:0:root:/root:/bin/bash",
    "# a comment",
    "",
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
    "broken:x:notanumber:1:::",
    "short:x:1:1",
    "+nisuser::::::",
    "deploy:x:1000:100::/home/deploy:/bin/sh  ",
  ].join("\n");
  deepEqual(parsePasswd(text), [
    { name: "root", uid: 0, gid: 0, home: "/root" },
    { name: "www-data", uid: 33, gid: 33, home: "/var/www" },
    { name: "deploy", uid: 1000, gid: 100, home: "/home/deploy" },
  ]);
});

Deno.test("parseGroups() reads names and gids, skipping malformed lines", () => {
  deepEqual(parseGroups("root:x:0:\nadm:x:4:syslog,me\nbad:x:\n-nis:x:9:\nstaff:x:50:"), [
    { name: "root", gid: 0 },
    { name: "adm", gid: 4 },
    { name: "staff", gid: 50 },
  ]);
});
