"""Faults, hex and signature helpers, and the block and checkpoint checks of docs/PROTOCOL-BLOCKS.md."""

import hashlib

from gridlet_ed25519 import ed25519_verify
from gridlet_jcs import jcs, merkle_root, sha256_hex, signing_bytes

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


def batch_root(leaf, proof):
    """The root a vote-batch proof {at, of, path} leads to from a leaf (docs/PROTOCOL-BLOCKS.md), or None."""
    if not isinstance(proof, dict):
        return None
    at, of, path = proof.get("at"), proof.get("of"), proof.get("path")
    if not _nat(at) or not _nat(of) or at >= of or not isinstance(path, list):
        return None
    h, i, m, k = leaf, at, of, 0
    while m > 1:
        if (i ^ 1) < m:
            if k >= len(path):
                return None
            sib = _hex(path[k], 32)
            if sib is None:
                return None
            k += 1
            h = hashlib.sha256(b"\x01" + (sib + h if i & 1 else h + sib)).digest()
        i, m = i >> 1, (m + 1) >> 1
    return h.hex() if k == len(path) else None


def check_vote(v, vote, key, ctx):
    """One certificate vote: signed alone over gridlet/vote/v1, or in a batch over gridlet/vote-batch/v1."""
    sig = _hex(v.get("sig"), 64)
    if sig is None:
        return False
    if "batch" not in v:
        return ed25519_verify(key, signing_bytes("gridlet/vote/v1", vote), sig)
    leaf = hashlib.sha256(b"\x00" + jcs(vote).encode("utf-8")).digest()
    root = batch_root(leaf, v["batch"])
    if root is None:
        return False
    # a member's batch signature stands behind every slot of a round: each (key, root, sig) is checked once
    seen = ctx.setdefault("batch_sigs", set())
    if (key, root, sig) in seen:
        return True
    ok = ed25519_verify(key, signing_bytes("gridlet/vote-batch/v1", {"root": root}), sig)
    if ok:
        seen.add((key, root, sig))
    return ok


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
    seen = set()
    for v in qc["votes"]:
        who = v.get("from") if isinstance(v, dict) else None
        key = ctx["keys"].get(who)
        if key is None:
            raise Fault("UNKNOWN_SIGNER", "block %d: certificate vote from non-member %s" % (seq, who))
        if who in seen:
            raise Fault("BAD_CERTIFICATE", "block %d: duplicate vote from %s" % (seq, who))
        if not check_vote(v, vote, key, ctx):
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
