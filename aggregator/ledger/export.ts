import { closeSync, openSync, readSync } from "node:fs";
import type { Writable } from "node:stream";
import type { LedgerEntry } from "./block.js";
import { LedgerError } from "./errors.js";
import type { BlockStore, CheckpointRecord, LedgerMember } from "./store.js";
import type { LedgerSource } from "./verify.js";

/**
 * The ledger export (docs/PROTOCOL-BLOCKS.md, "Ledger export"): JSON lines, each an object with a `kind`.
 * The first line is the header (the ledger's meta and the CA-signed consortium and genesis files), then
 * every block in order, each checkpoint right after the block that completes its round, and finally
 * whatever extra lines the caller adds (the readings export). With the CA certificate it is all an
 * auditor needs.
 */
export const EXPORT_FORMAT = "gridlet-ledger-export/v1";

export interface ExportMeta {
  members: LedgerMember[] | null;
  machine: string | null;
  mode: "pbft" | "pow";
  /** SHA-256 of the genesis' signed bytes, as the ledger recorded it */
  genesis: string | null;
}

export interface ExportHeader {
  kind: "header";
  format: typeof EXPORT_FORMAT;
  /** first block position written */
  from: number;
  meta: ExportMeta;
  /** the CA-signed consortium file `{consortium, caSig}` */
  consortium: unknown;
  /** the CA-signed genesis file `{genesis, caSig}` */
  genesis: unknown;
}

export interface ExportOptions {
  fromSeq?: number;
  /** overrides what the store's meta holds (a store written before the meta recorded the files) */
  consortium?: unknown;
  genesis?: unknown;
  /** more lines after the ledger (each a JSON object with its own `kind`) */
  extra?: Iterable<object>;
}

export function exportHeader(store: BlockStore, o: ExportOptions = {}): ExportHeader {
  return {
    kind: "header",
    format: EXPORT_FORMAT,
    from: o.fromSeq ?? 0,
    meta: {
      members: store.getMeta<LedgerMember[]>("members") ?? null,
      machine: store.getMeta<string>("machine") ?? null,
      mode: store.getMeta<"pbft" | "pow">("mode") ?? "pbft",
      genesis: store.getMeta<string>("genesis") ?? null,
    },
    consortium: o.consortium ?? store.getMeta("consortiumFile") ?? null,
    genesis: o.genesis ?? store.getMeta("genesisFile") ?? null,
  };
}

/**
 * Writes the export of a block store. Honours back-pressure on the stream. Returns the number of blocks
 * and checkpoints written.
 */
export async function exportLedger(
  store: BlockStore,
  out: Writable,
  o: ExportOptions = {},
): Promise<{ blocks: number; checkpoints: number; extra: number }> {
  const fromSeq = o.fromSeq ?? 0;
  const header = exportHeader(store, o);
  const perRound = header.meta.mode === "pow" ? 1 : Math.max(1, header.meta.members?.length ?? 1);
  const write = async (value: object) => {
    if (!out.write(`${JSON.stringify(value)}\n`))
      await new Promise<void>((resolve) => out.once("drain", resolve));
  };
  await write(header);
  const pending = store.checkpoints().filter((c) => c.round * perRound > fromSeq);
  let blocks = 0;
  let checkpoints = 0;
  for (const e of store.iterate()) {
    if (e.seq < fromSeq) continue;
    await write({ kind: "block", ...e });
    blocks++;
    // the checkpoint of round r follows block r·perRound − 1, the last of its round
    while (pending.length > 0 && pending[0].round * perRound <= e.seq + 1) {
      await write({ kind: "checkpoint", ...pending.shift()! });
      checkpoints++;
    }
  }
  for (const c of pending) {
    await write({ kind: "checkpoint", ...c });
    checkpoints++;
  }
  let extra = 0;
  for (const x of o.extra ?? []) {
    await write(x);
    extra++;
  }
  return { blocks, checkpoints, extra };
}

/** Yields the lines of a file one at a time, reading it in chunks (exports may be large). */
function* lines(path: string): Generator<{ text: string; no: number }> {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    let rest = Buffer.alloc(0);
    let no = 0;
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      let data = Buffer.concat([rest, buf.subarray(0, got)]);
      let nl = data.indexOf(10);
      while (nl >= 0) {
        no++;
        yield { text: data.subarray(0, nl).toString("utf8"), no };
        data = data.subarray(nl + 1);
        nl = data.indexOf(10);
      }
      rest = Buffer.from(data);
    }
    if (rest.length > 0) yield { text: rest.toString("utf8"), no: no + 1 };
  } finally {
    closeSync(fd);
  }
}

/**
 * A ledger export read back for verification: the header at once, the blocks streamed on each
 * `iterate()`, the checkpoints and other lines collected on the first pass.
 */
export class LedgerExport implements LedgerSource {
  readonly header: ExportHeader;
  private readonly cps: CheckpointRecord[] = [];
  /** lines of other kinds (e.g. readings), in file order */
  readonly others: Record<string, unknown>[] = [];

  constructor(readonly path: string) {
    let header: ExportHeader | undefined;
    for (const { text, no } of lines(path)) {
      if (text.trim() === "") continue;
      const line = parseLine(text, no, path);
      if (header === undefined) {
        if (line.kind !== "header" || line.format !== EXPORT_FORMAT)
          throw new LedgerError("BAD_EXPORT", `${path}: line 1 is not a ${EXPORT_FORMAT} header`);
        header = line as unknown as ExportHeader;
        continue;
      }
      if (line.kind === "checkpoint") {
        const { kind: _, ...c } = line;
        this.cps.push(c as unknown as CheckpointRecord);
      } else if (line.kind !== "block") this.others.push(line);
    }
    if (header === undefined) throw new LedgerError("BAD_EXPORT", `${path} is empty`);
    if (header.from !== 0)
      throw new LedgerError(
        "BAD_EXPORT",
        `${path} starts at block ${header.from}: only a whole ledger verifies`,
      );
    this.header = header;
  }

  *iterate(): Generator<LedgerEntry> {
    let first = true;
    for (const { text, no } of lines(this.path)) {
      if (first || text.trim() === "") {
        first = first && text.trim() === "";
        continue;
      }
      const line = parseLine(text, no, this.path);
      if (line.kind !== "block") continue;
      const { kind: _, ...entry } = line;
      yield entry as unknown as LedgerEntry;
    }
  }

  checkpoints(): CheckpointRecord[] {
    return this.cps;
  }
}

function parseLine(text: string, no: number, path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new LedgerError("BAD_EXPORT", `${path}:${no}: not JSON (${(e as Error).message})`);
  }
  if (
    typeof v !== "object" ||
    v === null ||
    Array.isArray(v) ||
    typeof (v as { kind?: unknown }).kind !== "string"
  )
    throw new LedgerError("BAD_EXPORT", `${path}:${no}: not an object with a "kind"`);
  return v as Record<string, unknown>;
}
