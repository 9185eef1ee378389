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
"""

import hashlib
import json
import sys

# ---------------------------------------------------------------------------------------------------
# Ed25519 verification, RFC 8032 section 5.1 (pure Ed25519: no pre-hash, no context)

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p1):
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _decode_point(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vx2 = v * x * x % P
    if vx2 == u:
        pass
    elif vx2 == (-u) % P:
        x = x * SQRT_M1 % P
    else:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


_BY = 4 * pow(5, P - 2, P) % P
_BASE = _decode_point(_BY.to_bytes(32, "little"))


def ed25519_verify(public_key, message, signature):
    """True when `signature` (64 bytes) is a valid Ed25519 signature of `message` under `public_key`."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode_point(public_key)
    r = _decode_point(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % L
    # [s]B - [k]A by one joint double-and-add (Straus), then compare with R projectively
    neg_a = ((-a[0]) % P, a[1], a[2], (-a[3]) % P)
    both = _add(_BASE, neg_a)
    q = (0, 1, 1, 0)
    for i in range(max(s.bit_length(), k.bit_length()) - 1, -1, -1):
        q = _double(q)
        bs, bk = (s >> i) & 1, (k >> i) & 1
        if bs and bk:
            q = _add(q, both)
        elif bs:
            q = _add(q, _BASE)
        elif bk:
            q = _add(q, neg_a)
    return (q[0] * r[2] - r[0] * q[2]) % P == 0 and (q[1] * r[2] - r[1] * q[2]) % P == 0


# ---------------------------------------------------------------------------------------------------
# RFC 8785 (JCS): sorted keys by UTF-16 code units, no whitespace, ECMAScript strings and numbers


def _jcs_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif c == 0x08:
            out.append("\\b")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x0C:
            out.append("\\f")
        elif c == 0x0D:
            out.append("\\r")
        elif c < 0x20 or 0xD800 <= c <= 0xDFFF:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _jcs_number(x):
    """ECMAScript Number::toString of a double (RFC 8785 section 3.2.2.3)."""
    if isinstance(x, int) and abs(x) < 2**53:
        return str(x)
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("non-finite number")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _jcs_number(-x)
    mantissa, _, exp = repr(x).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = (int_part + frac).lstrip("0")
    n = len(int_part.lstrip("0")) + (int(exp) if exp else 0)
    if not int_part.lstrip("0"):
        n = -(len(frac) - len(frac.lstrip("0"))) + (int(exp) if exp else 0)
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    if k == 1:
        return digits + "e" + sign + str(abs(e))
    return digits[0] + "." + digits[1:] + "e" + sign + str(abs(e))


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _jcs_number(v)
    if isinstance(v, str):
        return _jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError("not a JSON value: %r" % (v,))


def signing_bytes(domain, value):
    return (domain + "\n" + jcs(value)).encode("utf-8", "surrogatepass")


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def merkle_root(items):
    """Transactions Merkle tree: leaf H(0x00 || JCS), node H(0x01 || l || r), empty H(0x02), odd carried up."""
    if not items:
        return sha256_hex(b"\x02")
    level = [hashlib.sha256(b"\x00" + jcs(t).encode("utf-8", "surrogatepass")).digest() for t in items]
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2 == 1:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


# ---------------------------------------------------------------------------------------------------


class Fault(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _hex(s, nbytes):
    if not isinstance(s, str) or len(s) != 2 * nbytes:
        return None
    try:
        b = bytes.fromhex(s)
    except ValueError:
        return None
    return b if b.hex() == s else None


def _nat(x):
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**53


def verify_signed(domain, value, sig_hex, key):
    sig = _hex(sig_hex, 64)
    return sig is not None and ed25519_verify(key, signing_bytes(domain, value), sig)


def unsigned(obj):
    return {k: v for k, v in obj.items() if k != "sig"}


def check_ca(ca):
    if not isinstance(ca, dict) or ca.get("role") != "ca" or ca.get("issuer") != ca.get("id"):
        raise Fault("CERT_INVALID", "the CA certificate is not a self-issued CA certificate")
    key = _hex(ca.get("publicKey"), 32)
    if key is None or not verify_signed("gridlet/certificate/v1", unsigned(ca), ca.get("sig"), key):
        raise Fault("CERT_INVALID", "the CA certificate is not validly self-signed")
    return key


def check_documents(header, ca_key):
    """The consortium and genesis files against the CA; returns (members, consortium name, genesis hash)."""
    cf = header.get("consortium")
    if not isinstance(cf, dict) or not isinstance(cf.get("consortium"), dict):
        raise Fault("STORE_MISMATCH", "the export carries no consortium file")
    body = cf["consortium"]
    if not verify_signed("gridlet/consortium/v1", body, cf.get("caSig"), ca_key):
        raise Fault("CONSORTIUM_SIGNATURE", "the consortium file is not signed by this CA")
    members = body.get("members")
    if body.get("v") != 1 or not isinstance(members, list) or not members:
        raise Fault("CONSORTIUM_INVALID", "the consortium file has no members")
    keys = {}
    order = []
    for m in members:
        key = _hex(m.get("publicKey") if isinstance(m, dict) else None, 32)
        if key is None or not isinstance(m.get("id"), str) or m["id"] in keys:
            raise Fault("CONSORTIUM_INVALID", "bad or duplicate member in the consortium file")
        keys[m["id"]] = key
        order.append(m["id"])
    gf = header.get("genesis")
    if not isinstance(gf, dict) or not isinstance(gf.get("genesis"), dict):
        raise Fault("STORE_MISMATCH", "the export carries no genesis file")
    g = gf["genesis"]
    if not verify_signed("gridlet/genesis/v1", g, gf.get("caSig"), ca_key):
        raise Fault("GENESIS_SIGNATURE", "the genesis is not signed by this CA")
    if not isinstance(g.get("ca"), dict) or _hex(g["ca"].get("publicKey"), 32) != ca_key:
        raise Fault("GENESIS_SIGNATURE", "the genesis names another CA")
    if g.get("consortium") != body.get("name"):
        raise Fault("GENESIS_INVALID", "the genesis belongs to another consortium")
    for bank in g.get("banks") or {}:
        if bank not in keys:
            raise Fault("GENESIS_INVALID", "bank %s is not a consortium member" % bank)
    genesis_hash = sha256_hex(signing_bytes("gridlet/genesis/v1", g))
    meta = header.get("meta") or {}
    if meta.get("genesis") not in (None, genesis_hash):
        raise Fault("STORE_MISMATCH", "the ledger names another genesis than the CA-signed one")
    own = meta.get("members")
    if own is not None:
        signed = [{"id": i, "publicKey": keys[i].hex()} for i in order]
        if [{"id": m.get("id"), "publicKey": m.get("publicKey")} for m in own] != signed:
            raise Fault("STORE_MISMATCH", "the ledger's own metadata lists other member keys than the CA-signed consortium file")
    return order, keys, body.get("name"), genesis_hash, g


HEADER_KEYS = {"v", "round", "index", "view", "proposer", "time", "txRoot", "txCount"}


def check_block(entry, ctx):
    seq = entry.get("seq")
    block = entry.get("block")
    h = block.get("header") if isinstance(block, dict) else None
    if not isinstance(h, dict) or set(h.keys()) != HEADER_KEYS or h["v"] != 1:
        raise Fault("MALFORMED_BLOCK", "block %s: header has the wrong shape" % seq)
    for f in ("round", "index", "view", "time", "txCount"):
        if not _nat(h[f]):
            raise Fault("MALFORMED_BLOCK", "block %s: header.%s is not a natural number" % (seq, f))
    if seq != ctx["next"]:
        raise Fault("GAP", "block %d is missing (next in the export is %s)" % (ctx["next"], seq))
    if h["index"] >= ctx["per_round"] or h["round"] * ctx["per_round"] + h["index"] != seq:
        raise Fault("MALFORMED_BLOCK", "block %d names slot (%d, %d)" % (seq, h["round"], h["index"]))
    txs = block.get("txs")
    if not isinstance(txs, list) or len(txs) != h["txCount"] or merkle_root(txs) != h["txRoot"]:
        raise Fault("BAD_MERKLE_ROOT", "block %d: transactions do not match the header's Merkle root" % seq)
    header_bytes = signing_bytes("gridlet/block/v1", h)
    proposer_key = ctx["keys"].get(h["proposer"])
    sig = _hex(block.get("sig"), 64)
    if proposer_key is None or sig is None or not ed25519_verify(proposer_key, header_bytes, sig):
        raise Fault("BAD_PROPOSER_SIGNATURE", "block %d: bad proposer signature from %s" % (seq, h["proposer"]))
    if not ctx["pow"]:
        leader = ctx["order"][(h["index"] + h["view"]) % ctx["n"]]
        if h["proposer"] != leader:
            raise Fault(
                "WRONG_LEADER",
                "block %d (round %d, lane %d, view %d) is proposed by %s, but its leader is %s"
                % (seq, h["round"], h["index"], h["view"], h["proposer"], leader),
            )
    block_hash = sha256_hex(header_bytes)
    qc = entry.get("qc")
    if not isinstance(qc, dict) or not _nat(qc.get("view")) or not isinstance(qc.get("votes"), list):
        raise Fault("BAD_CERTIFICATE", "block %d: certificate has the wrong shape" % seq)
    vote = {"kind": "commit", "round": h["round"], "index": h["index"], "view": qc["view"], "block": block_hash}
    vote_bytes = signing_bytes("gridlet/vote/v1", vote)
    seen = set()
    for v in qc["votes"]:
        who = v.get("from") if isinstance(v, dict) else None
        key = ctx["keys"].get(who)
        if key is None:
            raise Fault("UNKNOWN_SIGNER", "block %d: certificate vote from non-member %s" % (seq, who))
        if who in seen:
            raise Fault("BAD_CERTIFICATE", "block %d: duplicate vote from %s" % (seq, who))
        vsig = _hex(v.get("sig"), 64)
        if vsig is None or not ed25519_verify(key, vote_bytes, vsig):
            raise Fault("BAD_CERTIFICATE", "block %d: bad commit signature from %s" % (seq, who))
        seen.add(who)
    if len(seen) < ctx["quorum"]:
        raise Fault("BAD_CERTIFICATE", "block %d: %d votes, needs %d" % (seq, len(seen), ctx["quorum"]))
    if entry.get("prev") != ctx["link"]:
        raise Fault("BAD_CHAIN", "block %d does not chain to block %d" % (seq, seq - 1))
    link = sha256_hex(signing_bytes("gridlet/ledger/v1", {"seq": seq, "prev": ctx["link"], "block": block_hash}))
    if entry.get("link") != link:
        raise Fault("BAD_CHAIN", "block %d has a wrong link hash" % seq)
    ctx["link"] = link
    ctx["links"].append(link)
    ctx["next"] += 1
    ctx["txs"] += len(txs)
    return h, txs


def check_checkpoint(c, ctx):
    r = c.get("round")
    if not _nat(r) or r < 1 or r in ctx["cp_rounds"]:
        raise Fault("BAD_CERTIFICATE", "checkpoint with round %r is malformed" % (r,))
    ctx["cp_rounds"].add(r)
    signed = {"round": r, "stateHash": c.get("stateHash"), "link": c.get("link")}
    cp_bytes = signing_bytes("gridlet/checkpoint/v1", signed)
    seen = set()
    for s in c.get("sigs") or []:
        who = s.get("from") if isinstance(s, dict) else None
        key = ctx["keys"].get(who)
        sig = _hex(s.get("sig") if isinstance(s, dict) else None, 64)
        if key is None or who in seen or sig is None or not ed25519_verify(key, cp_bytes, sig):
            raise Fault("BAD_CERTIFICATE", "checkpoint %d: bad signature from %s" % (r, who))
        seen.add(who)
    if len(seen) < ctx["quorum"]:
        raise Fault("BAD_CERTIFICATE", "checkpoint %d below quorum" % r)
    pos = r * ctx["per_round"] - 1
    if pos < len(ctx["links"]):
        if ctx["links"][pos] != c.get("link"):
            raise Fault("BAD_CHAIN", "checkpoint %d names another chain" % r)
        ctx["checkpoints"] += 1
    else:
        ctx["pending_cps"].append(c)


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
