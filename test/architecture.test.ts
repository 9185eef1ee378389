import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  dependencyViolations,
  importGraph,
  importsOf,
  vendorBypasses,
  vendoredPackages,
} from "../bench/harness/imports.js";
import { REPO_ROOT } from "../bench/harness/procs.js";
import { tempDir } from "../bench/harness/tmp.js";

describe("dependency direction (docs/DEVELOPING.md)", () => {
  it("the source tree breaks no rule", () => {
    const g = importGraph(REPO_ROOT);
    assert.ok(g.size > 200, `found only ${g.size} source files under ${REPO_ROOT}`);
    assert.deepEqual(dependencyViolations(g), []);
  });

  it("catches a direct crossing, a detour through config/, a test kit and the simulator", () => {
    const { dir: root, cleanup } = tempDir("gridlet-arch-");
    const put = (path: string, text: string): void => {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    put("agent/a.ts", 'import { x } from "../aggregator/state/x.js";\nexport const a = x;\n');
    put("aggregator/state/x.ts", "export const x = 1;\n");
    put("aggregator/runtime/r.ts", 'import type { C } from "../../config/agent.js";\nexport type R = C;\n');
    put("config/agent.ts", 'export { a as C } from "../agent/b.js";\n');
    put("agent/b.ts", "export const a = 2;\n");
    put("protocol/p.ts", 'import "../agent/b.js";\n');
    put(
      "cli/c.ts",
      'const k = await import("../test/kits/k.js");\nimport { s } from "../aggregator/consensus/sim/s.js";\n',
    );
    put("test/kits/k.ts", "export const k = 3;\n");
    put("aggregator/consensus/sim/s.ts", "export const s = 4;\n");
    put("agent/ok.test.ts", 'import "../test/kits/k.js";\n');
    const v = dependencyViolations(importGraph(root));
    const has = (from: string, to: string): boolean => v.some((l) => l.startsWith(`${from} → ${to}:`));
    assert.ok(has("agent/a.ts", "aggregator/state/x.ts"), v.join("\n"));
    assert.ok(has("aggregator/runtime/r.ts", "agent/b.ts"), "detour through config/ must be caught");
    assert.ok(has("protocol/p.ts", "agent/b.ts"));
    assert.ok(has("cli/c.ts", "test/kits/k.ts"));
    assert.ok(has("cli/c.ts", "aggregator/consensus/sim/s.ts"));
    assert.ok(!v.some((l) => l.startsWith("agent/ok.test.ts")), "a test may use a test kit");
    cleanup();
  });

  it("reads static, type-only, re-export and dynamic imports", () => {
    const text = [
      'import a from "./a.js";',
      'import type { B } from "../b.js";',
      'export { c } from "./c/c.js";',
      'const d = await import("./d.js");',
      'import "node:fs";',
      'import "./e.js";',
    ].join("\n");
    assert.deepEqual(importsOf("x/y/f.ts", text), [
      "x/y/a.ts",
      "x/b.ts",
      "x/y/c/c.ts",
      "x/y/d.ts",
      "x/y/e.ts",
    ]);
  });

  it("bundled packages are imported through their #name, and a bare import is caught", () => {
    const vendored = vendoredPackages(REPO_ROOT);
    for (const pkg of ["zod", "mqtt", "aedes", "@peculiar/x509"])
      assert.ok(vendored.has(pkg), `${pkg} bundled`);
    assert.deepEqual(vendorBypasses(REPO_ROOT, vendored), []);
    const { dir: root, cleanup } = tempDir("gridlet-arch-");
    mkdirSync(join(root, "agent"));
    writeFileSync(join(root, "agent", "a.ts"), 'import { z } from "zod";\nimport mqtt from "#mqtt";\n');
    assert.deepEqual(vendorBypasses(root, vendored), ["agent/a.ts imports zod: use #zod"]);
    cleanup();
  });
});
