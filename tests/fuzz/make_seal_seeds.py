#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_seal_open: valid boxes under the
harness's fixed key (enc[i] = i, mac[i] = 0x80 + i). Each file is one header
byte (bit 7 forge, low 6 bits ad length), the associated data, the box."""
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ENC = bytes(range(32))
MAC = bytes(0x80 + i for i in range(32))


def seal(iv, ad, pt):
    p = padding.PKCS7(128).padder()
    e = Cipher(algorithms.AES(ENC), modes.CBC(iv)).encryptor()
    ct = e.update(p.update(pt) + p.finalize()) + e.finalize()
    tag = hmac.new(MAC, b"\x01" + len(ad).to_bytes(8, "big") + ad + iv + ct, hashlib.sha256).digest()
    return b"\x01" + iv + ct + tag


out = os.path.join(os.path.dirname(__file__), "corpus", "fuzz_seal_open")
os.makedirs(out, exist_ok=True)
seeds = {
    "empty.bin": (0, b"", b""),
    "hello.bin": (0, b"", b"hello, natter"),
    "ad-40.bin": (0, b"natter/v1/msg", b"forty bytes of chat text for the seed..."),
    "forge-33.bin": (0x80, b"ad", b"x" * 33),
}
for name, (flags, ad, pt) in seeds.items():
    iv = hashlib.sha256(name.encode()).digest()[:16]
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([flags | len(ad)]) + ad + seal(iv, ad, pt))
