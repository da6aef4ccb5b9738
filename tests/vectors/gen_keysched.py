#!/usr/bin/env python3
"""Independent implementation of natter's handshake transcript and key
schedule (api-spec/protocol.md), used once to make the fixed vector in
tests/unit/test_keysched.c. Needs python3-cryptography. Run it and compare."""
import hashlib, hmac, struct
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

def lp(b): return struct.pack(">H", len(b)) + b

alice_priv = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
bob_pub = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
alice_pub = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
ikm = X25519PrivateKey.from_private_bytes(alice_priv).exchange(X25519PublicKey.from_public_bytes(bob_pub))

ikey = bytes((i * 7 + 1) & 0xff for i in range(294))
iid = hashlib.sha256(ikey).digest()
rid = bytes(range(32, 64))
nc = bytes(range(0, 32))
t_req = (b"natter-handshake-v1" + bytes([1, 1, 1]) + lp(ikey) + iid + rid + lp(alice_pub) + nc
         + struct.pack(">q", 1700000000) + lp(b"alice") + struct.pack(">H", 7711))
sig = bytes([0x5a]) * 384
sid = bytes(range(0xa0, 0xb0))
ns = bytes(range(100, 132))
t_core = (t_req + lp(sig) + sid + lp(bob_pub) + ns + struct.pack(">q", 1700000005)
          + struct.pack(">Q", 3600) + struct.pack(">q", 1700086405) + lp(b"bob"))
sealed = bytes([0x33]) * 97
t_reply = t_core + lp(sealed)
th = hashlib.sha256(t_core).digest()

prk = hmac.new(nc + ns, ikm, hashlib.sha256).digest()
def expand(label, n=32):
    info = b"natter/v1/" + label.encode() + b"\0" + th
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest(); out += t; i += 1
    return out[:n]

A = bytes([0x42]) * 32
confirm = hmac.new(A, b"natter/v1/key-confirm\0" + sid + th, hashlib.sha256).digest()
print("ikm", ikm.hex())
print("t_req_sha256", hashlib.sha256(t_req).hexdigest(), len(t_req))
print("th", th.hex(), len(t_core))
print("t_reply_sha256", hashlib.sha256(t_reply).hexdigest(), len(t_reply))
for l in ["c2s enc", "c2s mac", "s2c enc", "s2c mac", "auth-key enc", "auth-key mac"]:
    print(l, expand(l).hex())
print("confirm", confirm.hex())
