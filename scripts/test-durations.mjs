// A node:test reporter that writes one JSON object: how long each test file's top-level tests took,
// longest first. scripts/run-tests.mjs adds it when GRIDLET_TEST_DURATIONS names a file, so that a
// full run says where its time went (and which files belong in its SLOW_FIRST list).
import { relative } from "node:path";

export default async function* durations(source) {
  const files = new Map();
  for await (const e of source) {
    if ((e.type !== "test:pass" && e.type !== "test:fail") || e.data.nesting !== 0) continue;
    const file = e.data.file === undefined ? "?" : relative(process.cwd(), e.data.file);
    const f = files.get(file) ?? { file, ms: 0, tests: 0, failed: 0 };
    f.ms += e.data.details?.duration_ms ?? 0;
    f.tests += 1;
    if (e.type === "test:fail") f.failed += 1;
    files.set(file, f);
  }
  const list = [...files.values()].map((f) => ({ ...f, ms: Math.round(f.ms) })).sort((a, b) => b.ms - a.ms);
  const totalMs = list.reduce((s, f) => s + f.ms, 0);
  yield `${JSON.stringify({ files: list.length, sumOfFilesMs: totalMs, byFile: list }, null, 1)}\n`;
}
