"""Ed25519 signature verification, RFC 8032 section 5.1.7, in pure Python (for tools/verify_ledger.py)."""

import hashlib

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
