#!/usr/bin/env python3
"""Writes natter's own known-answer vectors (natter_seal_v1.json,
natter_kdf_derive.json) from an independent implementation of the layouts in
api-spec/protocol.md, on Python's hmac/hashlib and pyca/cryptography.

Run once; the outputs are kept in the repository and the C tests compare
against them, so a change of layout or derivation shows up as a failure.
"""
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def seal_v1(enc, mac, iv, ad, pt):
    p = padding.PKCS7(128).padder()
    padded = p.update(pt) + p.finalize()
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(padded) + e.finalize()
    head = b"\x01" + iv + ct
    tag = hmac.new(mac, b"\x01" + len(ad).to_bytes(8, "big") + ad + iv + ct, hashlib.sha256).digest()
    return head + tag


def hkdf_expand(prk, info, n):
    t, okm, i = b"", b"", 1
    while len(okm) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:n]


def kdf_derive(salt, ikm, context, outs):
    prk = hmac.new(salt if salt else b"\0" * 32, ikm, hashlib.sha256).digest()
    return [hkdf_expand(prk, b"natter/v1/" + l.encode() + b"\0" + context, n) for l, n in outs]


def main():
    enc = bytes(range(0x00, 0x20))
    mac = bytes(range(0x20, 0x40))
    cases = [
        ("empty plaintext, no ad", b"", b""),
        ("one byte", b"", b"A"),
        ("exactly one block: a full padding block follows", b"", b"0123456789abcdef"),
        ("with associated data", b"natter/v1/test ad", b"hello, natter: 33 bytes of text!!"),
        ("longer text, long ad", bytes(range(200)), ("The quick brown fox jumps over the lazy dog. " * 3).encode()),
    ]
    seal = []
    for i, (comment, ad, pt) in enumerate(cases):
        iv = bytes((0xA0 + i + j) & 0xFF for j in range(16))
        seal.append({"comment": comment, "enc_key": enc.hex(), "mac_key": mac.hex(), "iv": iv.hex(),
                     "ad": ad.hex(), "pt": pt.hex(), "sealed": seal_v1(enc, mac, iv, ad, pt).hex()})
    with open("natter_seal_v1.json", "w") as f:
        json.dump({"source": "tests/vectors/make_natter_vectors.py (independent Python implementation)",
                   "layout": "0x01 || iv || AES-256-CBC-PKCS7(enc_key) || HMAC-SHA256(mac_key, 0x01 || be64(len(ad)) || ad || iv || ct)",
                   "tests": seal}, f, indent=1)
        f.write("\n")

    kdf = []
    kcases = [
        ("session-like schedule", bytes(range(0x40, 0x60)), bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
         hashlib.sha256(b"transcript").digest(),
         [("c2s enc", 32), ("c2s mac", 32), ("s2c enc", 32), ("s2c mac", 32), ("auth", 32)]),
        ("empty salt and context, multi-block output", b"", b"\x0b" * 22, b"", [("a", 1), ("b", 80), ("room msg enc", 32)]),
        ("room keys", bytes(range(16)), bytes(range(0x80, 0xA0)), (7).to_bytes(8, "big"),
         [("room msg enc", 32), ("room msg mac", 32)]),
    ]
    for comment, salt, ikm, ctx, outs in kcases:
        okm = kdf_derive(salt, ikm, ctx, outs)
        kdf.append({"comment": comment, "salt": salt.hex(), "ikm": ikm.hex(), "context": ctx.hex(),
                    "outputs": [{"label": l, "len": n, "okm": o.hex()} for (l, n), o in zip(outs, okm)]})
    with open("natter_kdf_derive.json", "w") as f:
        json.dump({"source": "tests/vectors/make_natter_vectors.py (independent Python implementation)",
                   "derivation": "PRK = HKDF-Extract(salt, ikm); okm = HKDF-Expand(PRK, 'natter/v1/' || label || 0x00 || context, len)",
                   "tests": kdf}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
