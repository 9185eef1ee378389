import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { freeListenPort } from "./ports.js";

test("freeListenPort never hands out one port twice, and stays below the ephemeral range", async () => {
  // 400 random picks from ~22 000 ports collide with a probability of about 97 % unless the picker
  // remembers what it handed out (a 16-process test once failed with ADDRESS_IN_USE that way).
  const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  const ports: number[] = [];
  for (let i = 0; i < 400; i++) ports.push(await freeListenPort());
  assert.equal(new Set(ports).size, ports.length);
  for (const p of ports) assert.ok(p >= 10_000 && p < low, `port ${p} outside [10000, ${low})`);
});
