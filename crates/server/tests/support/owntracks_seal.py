"""Seal OwnTracks payloads as the OwnTracks apps do, with libsodium.

An implementation independent of the server's: PyNaCl's SecretBox (which
wraps libsodium's crypto_secretbox, XSalsa20-Poly1305). The key is the UTF-8
bytes of the key string, zero-padded or truncated to 32 bytes, as the
OwnTracks booklet (features/encrypt) describes; `data` is base64 of the
24-byte nonce followed by the box.

stdin: a JSON list of {"key": str, "plaintext": str}
stdout: a JSON list of request bodies (str): {"_type":"encrypted","data":…}
"""

import base64
import json
import sys

import nacl.secret
import nacl.utils


def key_bytes(key):
    raw = key.encode("utf-8")[: nacl.secret.SecretBox.KEY_SIZE]
    return raw + b"\0" * (nacl.secret.SecretBox.KEY_SIZE - len(raw))


def seal(key, plaintext):
    box = nacl.secret.SecretBox(key_bytes(key))
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = box.encrypt(plaintext.encode("utf-8"), nonce)
    # EncryptedMessage is nonce || ciphertext (MAC first, as libsodium's
    # combined mode).
    assert bytes(sealed[:24]) == nonce
    return json.dumps({"_type": "encrypted", "data": base64.b64encode(bytes(sealed)).decode()})


def main():
    requests = json.load(sys.stdin)
    json.dump([seal(r["key"], r["plaintext"]) for r in requests], sys.stdout)


if __name__ == "__main__":
    main()
