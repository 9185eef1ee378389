import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { Aedes } from "#aedes";
import mqtt from "#mqtt";
import { createLogger } from "./log.js";
import { logSubscribeOutcome } from "./subscribe-outcome.js";

test("a subscribe cut by the connection closing is debug; a filter the broker refuses is a warning", async () => {
  const broker = await Aedes.createBroker({
    authorizeSubscribe: (_client, sub, done) =>
      sub.topic === "forbidden/#" ? done(null, null) : done(null, sub),
  });
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const lines: string[] = [];
  const log = createLogger("t", {
    level: "debug",
    json: true,
    journal: false,
    sink: { write: (l) => lines.push(l) },
  });
  const outcome = (err: Error | null | undefined) =>
    logSubscribeOutcome(log, "down subscribe", { peer: "p" }, err);
  try {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await new Promise<void>((resolve) =>
      c.subscribe(["allowed/x", "forbidden/#"], { qos: 1 }, (err) => {
        outcome(err);
        resolve();
      }),
    );
    // the connection goes before the SUBACK can come
    const closed = new Promise<void>((resolve) =>
      c.subscribe("allowed/y", { qos: 1 }, (err) => {
        outcome(err);
        resolve();
      }),
    );
    c.end(true);
    await closed;
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string; error: string });
    assert.deepEqual(
      parsed.map((p) => [p.level, p.msg, p.error]),
      [
        ["warn", "down subscribe refused by the broker", "Subscribe error: Unspecified error"],
        ["debug", "down subscribe: not subscribed, until the next connection", "Connection closed"],
      ],
    );
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  }
});
