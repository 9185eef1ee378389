"""Metered evidence (docs/PROTOCOL.md, "Metered evidence"): meter summaries against the readings export."""

import json

from gridlet_common import Fault, _hex, _nat, unsigned, verify_signed
from gridlet_jcs import merkle_root

class Evidence:
    """Metered evidence (docs/PROTOCOL.md, "Metered evidence"): every meter summary in the ledger against the
    agents' signed readings in the export. Agent keys come from the CA-signed certificates registered in
    the ledger (identity.register)."""

    def __init__(self, ca_id, ca_key):
        self.ca_id = ca_id
        self.ca_key = ca_key
        self.agents = {}
        self.summaries = []

    def on_block(self, h, txs, seq):
        for tx in txs:
            if not isinstance(tx, dict):
                continue
            if tx.get("type") == "identity.register":
                cert = tx.get("body")
                if (
                    isinstance(cert, dict)
                    and cert.get("role") == "agent"
                    and cert.get("issuer") == self.ca_id
                    and cert.get("id") not in self.agents
                    and verify_signed("gridlet/certificate/v1", unsigned(cert), cert.get("sig"), self.ca_key)
                ):
                    key = _hex(cert.get("publicKey"), 32)
                    if key is not None:
                        self.agents[cert["id"]] = key
            elif tx.get("type") == "meter.summary":
                self.summaries.append((seq, tx))

    def _signed_by_agent(self, env):
        key = self.agents.get(env.get("from")) if isinstance(env, dict) else None
        return key is not None and verify_signed("gridlet/envelope/v1", unsigned(env), env.get("sig"), key)

    def finish(self, others, genesis):
        lines = [o for o in others if o["kind"] in ("reading", "meter-replacement")]
        if not lines:
            return {"evidence": "not checked: the export holds no readings (gridlet ledger export --readings)"}
        interval_ms = ((genesis.get("trading") or {}).get("intervalMs"))
        if not _nat(interval_ms) or interval_ms == 0:
            raise Fault("GENESIS_INVALID", "genesis.trading.intervalMs is missing")
        readings = {}
        replacements = {}
        for o in lines:
            env = o.get("envelope")
            if not self._signed_by_agent(env):
                raise Fault("BAD_SIGNATURE", "a %s in the export is not signed by a registered agent: %s:%s"
                            % (o["kind"], (env or {}).get("from"), (env or {}).get("seq")))
            b = env.get("body") or {}
            if o["kind"] == "reading":
                r = {"seq": env["seq"], "ts": b.get("ts"), "importWh": b.get("importWh"),
                     "exportWh": b.get("exportWh"), "envelope": env}
                if not all(_nat(r[k]) for k in ("ts", "importWh", "exportWh")):
                    raise Fault("BAD_READING", "reading %s:%s has no integer ts and registers" % (env["from"], env["seq"]))
                readings.setdefault((env["from"], b.get("meter")), []).append(r)
            else:
                replacements.setdefault((env["from"], b.get("meter")), []).append(b.get("ts"))
        checked = 0
        unsigned_summaries = 0
        total_import = 0
        total_export = 0
        for block_seq, env in self.summaries:
            if not self._signed_by_agent(env):
                unsigned_summaries += 1  # refused by the ledger machine: it settled nothing
                continue
            where = "summary %s:%s (block %d)" % (env["from"], env["seq"], block_seq)
            b = env.get("body") or {}
            meters = b.get("meters")
            if not _nat(b.get("interval")) or not isinstance(meters, list) or not meters:
                raise Fault("SUMMARY_UNPROVEN", "%s carries no evidence" % where)
            start = b["interval"] * interval_ms
            end = start + interval_ms
            imp = exp = count = 0
            claimed = set()
            for m in meters:
                name = m.get("meter")
                claimed.add(name)
                cov = covered_readings(readings.get((env["from"], name), []), start, end, interval_ms,
                                       replacements.get((env["from"], name), []))
                if not cov:
                    raise Fault("SUMMARY_MISMATCH", "%s: meter %s has no readings in the export" % (where, name))
                actual = {
                    "count": len(cov),
                    "root": merkle_root([r["envelope"] for r in cov]),
                    "first": {k: cov[0][k] for k in ("seq", "ts", "importWh", "exportWh")},
                    "last": {k: cov[-1][k] for k in ("seq", "ts", "importWh", "exportWh")},
                }
                for k in ("first", "last", "count", "root"):
                    if m.get(k) != actual[k]:
                        raise Fault("SUMMARY_MISMATCH", "%s: meter %s: %s claimed %s, the readings give %s"
                                    % (where, name, k, json.dumps(m.get(k)), json.dumps(actual[k])))
                imp += actual["last"]["importWh"] - actual["first"]["importWh"]
                exp += actual["last"]["exportWh"] - actual["first"]["exportWh"]
                count += actual["count"]
            for (sender, name), rs in readings.items():
                if sender == env["from"] and name not in claimed and covered_readings(
                        rs, start, end, interval_ms, replacements.get((sender, name), [])):
                    raise Fault("SUMMARY_MISMATCH", "%s leaves out meter %s" % (where, name))
            if (b.get("importWh"), b.get("exportWh"), b.get("readings")) != (imp, exp, count):
                raise Fault("SUMMARY_MISMATCH", "%s claims %s/%s Wh from %s readings; the readings give %d/%d Wh from %d"
                            % (where, b.get("importWh"), b.get("exportWh"), b.get("readings"), imp, exp, count))
            checked += 1
            total_import += imp
            total_export += exp
        return {
            "summariesChecked": checked,
            "summariesUnsigned": unsigned_summaries,
            "provenImportWh": total_import,
            "provenExportWh": total_export,
            "readings": sum(len(v) for v in readings.values()),
        }


def covered_readings(rs, start, end, lookback, replacements):
    """The readings of one meter covering [start, end]: from the last at or before start (no older than
    start - lookback), else the first after it, to the last at or before end, within the register epoch
    that holds end (its latest replacement at or before end)."""
    epoch = max([t for t in replacements if isinstance(t, int) and t <= end], default=None)
    xs = sorted(
        (r for r in rs if r["ts"] >= start - lookback and r["ts"] <= end and (epoch is None or r["ts"] >= epoch)),
        key=lambda r: (r["ts"], r["seq"]),
    )
    i = -1
    for k, r in enumerate(xs):
        if r["ts"] > start:
            break
        i = k
    return xs[max(i, 0):]
