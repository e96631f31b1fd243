"""Fuzz the UserSig decoder and verifier: whatever the input, only `TIMError` may escape.

    python benchmarks/fuzz_usersig.py --runs 1000000            # atheris when installed
    python benchmarks/fuzz_usersig.py --runs 100000 --engine random

The first input byte picks what the rest of the input is, so mutations reach every layer:
0 the UserSig text itself, 1 the JSON document (wrapped in zlib and base64 here), 2 the zlib
stream (base64-wrapped here), 3 character substitutions applied to a valid UserSig. A UserSig
that verifies must carry exactly the app, identifier and key it was checked against.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import sys
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzzkit import main

from aio_tim.auth import decode_usersig, mint_usersig, verify_usersig
from aio_tim.errors import TIMError

SDK_APP_ID = 1400000000
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
IDENTIFIER = "xiaojun"
NOW = 1600000000
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_+/=. %"
VALID = mint_usersig(SDK_APP_ID, KEY, IDENTIFIER, now=NOW, expire=86400)
VALID_DOC = zlib.decompress(base64.b64decode(VALID.translate(str.maketrans("*-_", "+/="))))


def wrap(raw: bytes) -> str:
    return base64.b64encode(raw).decode().translate(str.maketrans("+/=", "*-_"))


def substituted(edits: bytes) -> str:
    """The valid UserSig with (position, character) pairs from `edits` applied."""
    chars = list(VALID)
    for i in range(0, len(edits) - 1, 2):
        chars[edits[i] * 7 % len(chars)] = chr(ALPHABET[edits[i + 1] % len(ALPHABET)])
    return "".join(chars)


def usersig_of(data: bytes) -> str:
    mode, rest = (data[0] % 4, data[1:]) if data else (0, b"")
    if mode == 0:
        return rest.decode("latin-1")
    if mode == 1:
        return wrap(zlib.compress(rest))
    if mode == 2:
        return wrap(rest)
    return substituted(rest)


def target(data: bytes) -> None:
    usersig = usersig_of(data)
    with contextlib.suppress(TIMError):
        decode_usersig(usersig)
    fields = verify_usersig(usersig, sdk_app_id=SDK_APP_ID, secret_key=KEY, identifier=IDENTIFIER, now=NOW)
    # Accepted: it must be what was asked for, signed with KEY (the oracle beyond "no crash").
    assert (fields.sdk_app_id, fields.identifier) == (SDK_APP_ID, IDENTIFIER)
    assert fields.time <= NOW + 300 and fields.expires_at >= NOW


def random_document(rng: random.Random) -> bytes:
    """Mode 1: a TLS document with random types and values, sometimes validly signed."""
    values: list[Any] = [IDENTIFIER, SDK_APP_ID, NOW, 86400, "2.0", "", None, True, 1.5, -1, 2**64, [], {},
                         "x" * rng.randint(0, 300), "\ud800", "é"]  # fmt: skip
    doc = json.loads(VALID_DOC)
    for key in (
        "TLS.ver",
        "TLS.identifier",
        "TLS.sdkappid",
        "TLS.expire",
        "TLS.time",
        "TLS.sig",
        "TLS.userbuf",
    ):
        roll = rng.random()
        if roll < 0.2:
            doc.pop(key, None)
        elif roll < 0.5:
            doc[key] = rng.choice(values)
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    return b"\x01" + text.encode("utf-8", "surrogatepass")


SEEDS = [
    b"\x00" + VALID.encode(),
    b"\x01" + VALID_DOC,
    b"\x02" + zlib.compress(VALID_DOC),
    b"\x03" + bytes(range(8)),
    b"\x00eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQ",
    b"\x01[]",
    b"\x02" + zlib.compress(b" " * 100_000),
]

if __name__ == "__main__":
    sys.exit(main("fuzz_usersig", target, SEEDS, modules=["aio_tim.auth"], generators=[random_document]))
