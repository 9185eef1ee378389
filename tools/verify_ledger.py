#!/usr/bin/env python3
"""
An independent verifier of a Gridlet ledger export, written from docs/PROTOCOL.md and
docs/PROTOCOL-BLOCKS.md alone, with the Python standard library only: its own Ed25519 verification
(RFC 8032, section 5.1.7) and its own RFC 8785 canonical JSON.

    python3 tools/verify_ledger.py --ca ca.cert.json ledger.jsonl [--json]

Trusts nothing but the CA certificate: member keys come from the CA-signed consortium file in the
export's header; the genesis must be CA-signed and match. Checks every block (shape, Merkle root,
proposer signature, leader rule, quorum certificate, hash chain) and every checkpoint (signatures and
link). With readings lines in the export (gridlet ledger export --readings), also recomputes the energy
of every meter summary from the agents' signed readings (docs/PROTOCOL.md, "Metered evidence").

Exit codes: 0 the ledger verifies, 1 it does not (the first fault is printed), 2 usage error.

Modules next to this file: gridlet_ed25519.py (RFC 8032 verification), gridlet_jcs.py (RFC 8785, signing
bytes, Merkle tree), gridlet_common.py (the block, certificate and checkpoint checks), gridlet_evidence.py
(meter summaries against the readings).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gridlet_common import Fault, _hex, check_block, check_ca, check_checkpoint, check_documents  # noqa: E402
from gridlet_evidence import Evidence  # noqa: E402


def _no_constants(name):
    raise ValueError("%s is not JSON" % name)


def read_lines(path):
    with open(path, "rb") as f:
        for no, raw in enumerate(f, 1):
            text = raw.strip()
            if not text:
                continue
            try:
                value = json.loads(text.decode("utf-8"), parse_constant=_no_constants)
            except ValueError as e:
                raise Fault("BAD_EXPORT", "line %d is not JSON: %s" % (no, e))
            if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
                raise Fault("BAD_EXPORT", "line %d is not an object with a kind" % no)
            yield value


def verify_export(path, ca_cert, evidence=None):
    ca_key = check_ca(ca_cert)
    lines = read_lines(path)
    header = next(lines, None)
    if header is None or header.get("kind") != "header" or header.get("format") != "gridlet-ledger-export/v1":
        raise Fault("BAD_EXPORT", "line 1 is not a gridlet-ledger-export/v1 header")
    if header.get("from") != 0:
        raise Fault("BAD_EXPORT", "the export does not start at block 0")
    order, keys, name, genesis_hash, genesis = check_documents(header, ca_key)
    n = len(order)
    pow_mode = (header.get("meta") or {}).get("mode") == "pow"
    ctx = {
        "order": order,
        "keys": keys,
        "n": n,
        "pow": pow_mode,
        "quorum": n if pow_mode else 2 * ((n - 1) // 3) + 1,
        "per_round": 1 if pow_mode else n,
        "next": 0,
        "link": "0" * 64,
        "links": [],
        "txs": 0,
        "checkpoints": 0,
        "cp_rounds": set(),
        "pending_cps": [],
    }
    others = []
    for line in lines:
        kind = line["kind"]
        if kind == "block":
            h, txs = check_block(line, ctx)
            if evidence is not None:
                evidence.on_block(h, txs, line["seq"])
        elif kind == "checkpoint":
            check_checkpoint(line, ctx)
        else:
            others.append(line)
    for c in ctx["pending_cps"]:
        pos = c["round"] * ctx["per_round"] - 1
        if pos < len(ctx["links"]):
            raise Fault("BAD_EXPORT", "checkpoint %d comes before the block it signs" % c["round"])
    report = {
        "ok": True,
        "consortium": name,
        "members": n,
        "genesis": genesis_hash,
        "blocks": ctx["next"],
        "transactions": ctx["txs"],
        "checkpointsChecked": ctx["checkpoints"],
        "checkpointsAhead": len(ctx["pending_cps"]),
        "lastLink": ctx["link"],
    }
    if evidence is not None:
        report.update(evidence.finish(others, genesis))
    return report


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description="Verify a Gridlet ledger export against the CA certificate.")
    ap.add_argument("--ca", required=True, help="the CA certificate (ca.cert.json)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("export", help="the ledger export (gridlet ledger export)")
    a = ap.parse_args(argv)
    try:
        with open(a.ca, "rb") as f:
            ca_cert = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        sys.stderr.write("verify_ledger.py: cannot read the CA certificate %s: %s\n" % (a.ca, e))
        return 2
    try:
        report = verify_export(a.export, ca_cert, Evidence(ca_cert.get("id"), _hex(ca_cert.get("publicKey"), 32)))
    except OSError as e:
        sys.stderr.write("verify_ledger.py: cannot read %s: %s\n" % (a.export, e))
        return 2
    except Fault as e:
        if a.json:
            sys.stdout.write(json.dumps({"ok": False, "code": e.code, "error": str(e)}) + "\n")
        else:
            sys.stderr.write("verify_ledger.py: FAIL %s: %s\n" % (e.code, e))
        return 1
    if a.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(
            "ledger OK (anchored to the CA): consortium %s, %d members, %d blocks, %d transactions, "
            "%d checkpoints\nhead link %s\n"
            % (report["consortium"], report["members"], report["blocks"], report["transactions"],
               report["checkpointsChecked"], report["lastLink"])
        )
        if "summariesChecked" in report:
            sys.stdout.write(
                "meter summaries: %d proven by %d signed readings (%d Wh import, %d Wh export)\n"
                % (report["summariesChecked"], report["readings"], report["provenImportWh"], report["provenExportWh"])
            )
        else:
            sys.stdout.write("meter summaries: %s\n" % report["evidence"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
