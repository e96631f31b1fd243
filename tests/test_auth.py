"""UserSig v2: the published vector, interop with the tls-sig-api-v2 reference, every failure code,
hostile input, and the renewing cache."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import TLSSigAPIv2  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from aio_tim.auth import (
    UserSigCache,
    UserSigFields,
    decode_usersig,
    mint_usersig,
    verify_usersig,
)
from aio_tim.errors import AuthError, UsageError

# A vector computed by the UserSig v2 format (what tls-sig-api-v2 builds).
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
APP = 1400000000
USER = "xiaojun"
T0 = 1600000000
EXPIRE = 15552000
VECTOR_SIG = "1Z5PngDjGaufeSiPoBuxdHY7EK3JTdAjMP93S4KvV3M="
VECTOR = (
    "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1Nj"
    "RDiJZm5YFEzNPXFmekgGwyjTAPy0l2y3BNL01KDMwPynUorUjwizV29jb1CUhyzfAMsjYNNvMvCjH1tlWoBGhAzGw__"
)
VECTOR_FIELDS = UserSigFields(
    identifier=USER, sdk_app_id=APP, time=T0, expire=EXPIRE, version="2.0", sig=VECTOR_SIG
)
OTHER_KEY = "0" * 64
URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_"


# --- helpers built on the reference module, so the tests do not trust aio_tim.auth -------------


def ref_sig(
    identifier: str, app: int, issued: int, expire: int, userbuf_b64: str | None, key: str = KEY
) -> str:
    """TLS.sig as the reference module's own (name-mangled) HMAC routine computes it."""
    api = TLSSigAPIv2.TLSSigAPIv2(app, key)
    raw: bytes = api._TLSSigAPIv2__hmacsha256(identifier, issued, expire, userbuf_b64)
    return raw.decode()


def ref_unwrap(usersig: str) -> dict[str, Any]:
    """The JSON document of a UserSig, decoded with the reference's base64_decode_url."""
    doc: dict[str, Any] = json.loads(zlib.decompress(TLSSigAPIv2.base64_decode_url(usersig.encode())))
    return doc


def wrap(payload: bytes | object) -> str:
    """A UserSig around arbitrary content: JSON-encode unless bytes, zlib, reference base64url."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return wrap_compressed(zlib.compress(data))


def wrap_compressed(compressed: bytes) -> str:
    """Already-compressed (or not compressed at all) bytes in the UserSig alphabet."""
    encoded: str = TLSSigAPIv2.base64_encode_url(compressed)
    return encoded


def signed_doc(key: str = KEY, **fields: Any) -> dict[str, Any]:
    """A correctly signed document for the vector's fields, with `fields` (short names) replaced."""
    values: dict[str, Any] = {
        "ver": "2.0",
        "identifier": USER,
        "sdkappid": APP,
        "expire": EXPIRE,
        "time": T0,
    } | fields
    doc = {f"TLS.{name}": value for name, value in values.items() if value is not None}
    doc["TLS.sig"] = ref_sig(
        values["identifier"], values["sdkappid"], values["time"], values["expire"], None, key
    )
    return doc


def edited(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`doc` with TLS fields changed after signing."""
    return doc | {f"TLS.{name}": value for name, value in changes.items()}


def flip_first_char(sig: str) -> str:
    """A signature that differs from `sig` in its first byte."""
    return ("B" if sig[0] == "A" else "A") + sig[1:]


def verify(usersig: str, **overrides: Any) -> UserSigFields:
    """verify_usersig with the vector's expectations and a clock 10 s after issue."""
    kwargs: dict[str, Any] = {
        "sdk_app_id": APP,
        "secret_key": KEY,
        "identifier": USER,
        "now": T0 + 10,
    }
    return verify_usersig(usersig, **(kwargs | overrides))


# --- the published vector ------------------------------------------------------------------


def test_vector_decodes_to_published_fields() -> None:
    """The protocol document's UserSig decodes to its published fields and TLS.sig."""
    assert decode_usersig(VECTOR) == VECTOR_FIELDS
    assert decode_usersig(VECTOR).expires_at == T0 + EXPIRE


@pytest.mark.parametrize("now", [T0 - 300, T0, T0 + 10, T0 + EXPIRE])
def test_vector_verifies_with_injected_clock(now: int) -> None:
    """The published UserSig verifies at any moment inside its validity window."""
    assert verify_usersig(VECTOR, sdk_app_id=APP, secret_key=KEY, identifier=USER, now=now).sig == (
        VECTOR_SIG
    )


def test_vector_is_expired_by_wall_clock() -> None:
    """Without an injected clock the 2020 vector is expired (70001)."""
    with pytest.raises(AuthError) as info:
        verify_usersig(VECTOR, sdk_app_id=APP, secret_key=KEY, identifier=USER)
    assert info.value.code == 70001


def test_mint_reproduces_vector() -> None:
    """mint_usersig with the vector's inputs yields the vector's fields and signature."""
    minted = mint_usersig(APP, KEY, USER, expire=EXPIRE, now=T0)
    assert decode_usersig(minted) == VECTOR_FIELDS
    assert ref_unwrap(minted) == ref_unwrap(VECTOR)


# --- interop with the tls-sig-api-v2 reference ------------------------------------------------

IDENTIFIERS = ["xiaojun", "administrator", "user_01-A", "用户"]


@pytest.mark.parametrize("identifier", IDENTIFIERS)
@pytest.mark.parametrize("expire", [1, 86400, 180 * 86400])
def test_verifies_reference_gen_sig(identifier: str, expire: int) -> None:
    """A UserSig from TLSSigAPIv2.gen_sig verifies and yields the same identity and lifetime."""
    usersig = TLSSigAPIv2.TLSSigAPIv2(APP, KEY).gen_sig(identifier, expire)
    issued = ref_unwrap(usersig)["TLS.time"]
    fields = verify_usersig(usersig, sdk_app_id=APP, secret_key=KEY, identifier=identifier, now=issued)
    assert (fields.identifier, fields.sdk_app_id, fields.expire) == (identifier, APP, expire)
    assert (fields.version, fields.userbuf) == ("2.0", None)


@pytest.mark.parametrize("userbuf", [b"", b"abc", bytes(range(256))])
def test_verifies_reference_gen_sig_with_userbuf(userbuf: bytes) -> None:
    """A UserSig from gen_sig_with_userbuf verifies, with the userbuf line in the HMAC."""
    usersig = TLSSigAPIv2.TLSSigAPIv2(APP, KEY).gen_sig_with_userbuf(USER, 3600, userbuf)
    fields = verify_usersig(usersig, sdk_app_id=APP, secret_key=KEY, identifier=USER)
    assert (fields.identifier, fields.sdk_app_id, fields.expire) == (USER, APP, 3600)
    assert fields.userbuf == userbuf


@pytest.mark.parametrize("userbuf", [None, b"", b"abc", bytes(range(256))])
@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_minted_matches_reference_structure_and_hmac(identifier: str, userbuf: bytes | None) -> None:
    """Our UserSig has the reference's keys and the HMAC the reference algorithm computes."""
    ref_api = TLSSigAPIv2.TLSSigAPIv2(APP, KEY)
    if userbuf is None:
        reference = ref_api.gen_sig(identifier, 3600)
    else:
        reference = ref_api.gen_sig_with_userbuf(identifier, 3600, userbuf)
    ours = ref_unwrap(mint_usersig(APP, KEY, identifier, expire=3600, now=T0, userbuf=userbuf))
    assert list(ours) == list(ref_unwrap(reference))
    assert ours["TLS.sig"] == ref_sig(identifier, APP, T0, 3600, ours.get("TLS.userbuf"))
    assert (ours["TLS.ver"], ours["TLS.time"], ours["TLS.expire"]) == ("2.0", T0, 3600)


# --- every failure code ----------------------------------------------------------------------

FAILURES: list[tuple[str, Callable[[], str], dict[str, Any], int, str]] = [
    # (id, UserSig builder, verify overrides, code, fragment of the message)
    ("empty", lambda: "", {}, 70002, "empty"),
    (
        "expired",
        lambda: mint_usersig(APP, KEY, USER, expire=100, now=T0),
        {"now": T0 + 101},
        70001,
        "expired",
    ),
    ("truncated-text", lambda: VECTOR[:-10], {}, 70003, "base64"),
    (
        "truncated-zlib",
        lambda: wrap_compressed(zlib.compress(json.dumps(signed_doc()).encode())[:-6]),
        {},
        70003,
        "truncated",
    ),
    (
        "trailing-zlib",
        lambda: wrap_compressed(zlib.compress(b"{}") + b"junk"),
        {},
        70003,
        "trailing",
    ),
    ("not-base64", lambda: "not a usersig!", {}, 70003, "alphabet"),
    ("raw-base64-chars", lambda: VECTOR.replace("_", "="), {}, 70003, "alphabet"),
    ("non-ascii", lambda: "eJyr" + "é" * 8, {}, 70003, "alphabet"),
    ("bad-padding", lambda: VECTOR.rstrip("_"), {}, 70003, "base64"),
    ("noncanonical-base64", lambda: "QR__", {}, 70003, "canonical"),
    ("not-zlib", lambda: wrap_compressed(b"plain text, never compressed"), {}, 70003, "zlib"),
    ("zlib-not-json", lambda: wrap(b"hello world"), {}, 70003, "JSON"),
    ("json-array", lambda: wrap([1, 2, 3]), {}, 70003, "JSON"),
    ("json-string", lambda: wrap("TLS.sig"), {}, 70003, "JSON"),
    ("empty-object", lambda: wrap({}), {}, 70003, "JSON"),
    (
        "missing-sig",
        lambda: wrap({k: v for k, v in signed_doc().items() if k != "TLS.sig"}),
        {},
        70003,
        "JSON",
    ),
    ("sdkappid-str", lambda: wrap(edited(signed_doc(), sdkappid=str(APP))), {}, 70003, "JSON"),
    ("time-float", lambda: wrap(edited(signed_doc(), time=float(T0))), {}, 70003, "JSON"),
    ("identifier-int", lambda: wrap(edited(signed_doc(), identifier=7)), {}, 70003, "JSON"),
    ("sig-int", lambda: wrap(edited(signed_doc(), sig=1)), {}, 70003, "JSON"),
    ("sig-null", lambda: wrap(edited(signed_doc(), sig=None)), {}, 70003, "JSON"),
    ("ver-int", lambda: wrap(edited(signed_doc(), ver=2)), {}, 70003, "JSON"),
    ("ver-null", lambda: wrap(edited(signed_doc(), ver=None)), {}, 70003, "JSON"),
    ("ver-empty", lambda: wrap(edited(signed_doc(), ver="")), {}, 70003, "TLS.ver"),
    ("expire-bool", lambda: wrap(edited(signed_doc(), expire=True)), {}, 70003, "JSON"),
    ("sdkappid-bool", lambda: wrap(edited(signed_doc(), sdkappid=False)), {}, 70003, "JSON"),
    ("time-2**63", lambda: wrap(edited(signed_doc(), time=2**63)), {}, 70003, "JSON"),
    ("expire-2**100", lambda: wrap(edited(signed_doc(), expire=2**100)), {}, 70003, "JSON"),
    ("expire-negative", lambda: wrap(edited(signed_doc(), expire=-1)), {}, 70003, "JSON"),
    (
        "userbuf-not-base64",
        lambda: wrap(edited(signed_doc(), userbuf="@@@@")),
        {},
        70003,
        "userbuf",
    ),
    ("userbuf-int", lambda: wrap(edited(signed_doc(), userbuf=5)), {}, 70003, "JSON"),
    ("deep-nesting", lambda: wrap(b'{"x":' + b"[" * 2000 + b"]" * 2000 + b"}"), {}, 70003, "JSON"),
    ("bomb-10MB", lambda: wrap(b"\0" * 10_000_000), {}, 70003, "too long"),
    ("bomb-100kB", lambda: wrap(b"\0" * 100_000), {}, 70003, "inflates beyond"),
    (
        "bomb-padded-json",
        lambda: wrap(json.dumps(signed_doc()).encode() + b" " * 50_000),
        {},
        70003,
        "inflates beyond",
    ),
    ("huge-text", lambda: "A" * 100_000, {}, 70003, "too long"),
    ("wrong-key", lambda: mint_usersig(APP, OTHER_KEY, USER, now=T0), {}, 70009, "signature"),
    (
        "flipped-sig",
        lambda: wrap(edited(signed_doc(), sig=flip_first_char(VECTOR_SIG))),
        {},
        70009,
        "signature",
    ),
    (
        "expire-edited",
        lambda: wrap(edited(signed_doc(), expire=EXPIRE * 2)),
        {},
        70009,
        "signature",
    ),
    ("time-edited", lambda: wrap(edited(signed_doc(), time=T0 + 5)), {}, 70009, "signature"),
    ("userbuf-added", lambda: wrap(edited(signed_doc(), userbuf="YWJj")), {}, 70009, "signature"),
    ("identifier-mismatch", lambda: VECTOR, {"identifier": "xiaojun2"}, 70013, "identifier"),
    ("identifier-case", lambda: VECTOR, {"identifier": "XIAOJUN"}, 70013, "identifier"),
    ("sdkappid-mismatch", lambda: VECTOR, {"sdk_app_id": APP + 1}, 70014, "SDKAppID"),
    (
        "future-dated",
        lambda: mint_usersig(APP, KEY, USER, now=T0 + 1000),
        {"now": T0},
        70003,
        "future",
    ),
    (
        "future-no-skew",
        lambda: mint_usersig(APP, KEY, USER, now=T0 + 1),
        {"now": T0, "max_future_skew": 0},
        70003,
        "future",
    ),
    ("wrong-version", lambda: wrap(signed_doc(ver="1.0")), {}, 70003, "TLS.ver"),
    # The reference verifier's order decides which of several faults is reported.
    (
        "order-sdkappid-before-identifier",
        lambda: VECTOR,
        {"sdk_app_id": 1, "identifier": "x"},
        70014,
        "SDKAppID",
    ),
    (
        "order-identifier-before-expiry",
        lambda: VECTOR,
        {"identifier": "x", "now": 2**40},
        70013,
        "identifier",
    ),
    (
        "order-expiry-before-signature",
        lambda: VECTOR,
        {"secret_key": OTHER_KEY, "now": 2**40},
        70001,
        "expired",
    ),
    (
        "order-version-before-signature",
        lambda: wrap(signed_doc(ver="3.0")),
        {"secret_key": OTHER_KEY},
        70003,
        "TLS.ver",
    ),
]


@pytest.mark.parametrize(
    ("build", "overrides", "code", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in FAILURES],
)
def test_verify_failure_codes(
    build: Callable[[], str], overrides: dict[str, Any], code: int, fragment: str
) -> None:
    """Each bad UserSig raises AuthError with its TIM code, naming the fault but no secret."""
    usersig = build()
    with pytest.raises(AuthError) as info:
        verify(usersig, **overrides)
    error = info.value
    assert (type(error), error.code) == (AuthError, code)
    assert fragment in error.desc
    for text in (str(error), repr(error), *map(str, error.args)):
        assert KEY not in text and OTHER_KEY not in text and VECTOR_SIG not in text
        assert not usersig or usersig not in text
    # No chained exception whose own text could quote the input.
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None


@pytest.mark.parametrize(
    ("doc", "overrides"),
    [
        pytest.param(signed_doc(ver=None), {}, id="no-version"),
        pytest.param(signed_doc() | {"TLS.extra": [1, {"x": None}]}, {}, id="unknown-key"),
        pytest.param(signed_doc(), {"now": T0 + EXPIRE}, id="last-valid-second"),
        pytest.param(signed_doc(time=T0 + 300), {"now": T0}, id="future-within-skew"),
        pytest.param(signed_doc(identifier=""), {"identifier": ""}, id="empty-identifier"),
    ],
)
def test_verify_accepts_edge_cases(doc: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Documents the reference verifier accepts still verify (no TLS.ver, extra keys, bounds)."""
    fields = verify(wrap(doc), **overrides)
    assert fields.sig == doc["TLS.sig"]


@pytest.mark.parametrize(("size", "ok"), [(4096, True), (4095, False)])
def test_decompression_cap_is_exact(size: int, ok: bool) -> None:
    """A document of exactly max_decompressed bytes decodes; one byte over is refused."""
    body = json.dumps(signed_doc()).encode()
    usersig = wrap(body + b" " * (4096 - len(body)))
    if ok:
        assert decode_usersig(usersig, max_decompressed=size).sig == VECTOR_SIG
    else:
        with pytest.raises(AuthError, match="inflates beyond"):
            decode_usersig(usersig, max_decompressed=size)


@pytest.mark.parametrize("value", [b"eJyr", None, 12345, ["x"]])
def test_decode_rejects_non_str(value: object) -> None:
    """A non-string UserSig is malformed (70003), not a TypeError."""
    with pytest.raises(AuthError) as info:
        decode_usersig(value)  # type: ignore[arg-type]
    assert info.value.code == 70003


# --- hostile input never escapes as another exception type ----------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
TLS_KEYS = st.sampled_from(
    [
        "TLS.ver",
        "TLS.identifier",
        "TLS.sdkappid",
        "TLS.expire",
        "TLS.time",
        "TLS.userbuf",
        "TLS.sig",
    ]
)


def decode_or_auth_error(usersig: str) -> None:
    """decode_usersig either returns fields or raises AuthError; anything else propagates."""
    try:
        fields = decode_usersig(usersig)
    except AuthError as error:
        assert error.code in (70002, 70003)
    else:
        assert isinstance(fields, UserSigFields)


@settings(database=None, max_examples=300)
@given(st.text() | st.text(alphabet=URL_ALPHABET))
def test_decode_arbitrary_text_raises_only_auth_error(text: str) -> None:
    """Arbitrary text, in or out of the UserSig alphabet, yields fields or AuthError only."""
    decode_or_auth_error(text)


@settings(database=None, max_examples=300)
@given(st.binary(max_size=6000))
def test_decode_arbitrary_compressed_bytes_raises_only_auth_error(payload: bytes) -> None:
    """Any zlib-compressed bytes, wrapped as a UserSig, yield fields or AuthError only."""
    decode_or_auth_error(wrap(payload))


@settings(database=None, max_examples=300)
@given(st.dictionaries(TLS_KEYS | st.text(max_size=8), JSON_VALUES, max_size=9))
def test_decode_arbitrary_documents_raises_only_auth_error(doc: dict[str, Any]) -> None:
    """JSON objects with TLS keys of arbitrary types yield fields or AuthError only."""
    decode_or_auth_error(wrap(json.dumps(doc).encode()))


@settings(database=None, max_examples=100)
@given(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    st.integers(0, 2**63 - 1),
    st.integers(0, 2**40),
    st.binary(),
)
def test_mint_decode_round_trip(identifier: str, app: int, issued: int, userbuf: bytes) -> None:
    """Every minted UserSig decodes to the fields it was minted with."""
    minted = mint_usersig(app, KEY, identifier, expire=60, now=issued, userbuf=userbuf)
    fields = verify_usersig(minted, sdk_app_id=app, secret_key=KEY, identifier=identifier, now=issued)
    assert (fields.identifier, fields.sdk_app_id, fields.time, fields.userbuf) == (
        identifier,
        app,
        issued,
        userbuf,
    )


# --- the renewing cache and reprs --------------------------------------------------------------


class FakeClock:
    """A settable clock for UserSigCache."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("lifetime", "renews_after"),
    [(86400, 86400 - 8640), (3600, 3600 - 360), (300, 300 - 60), (61, 1)],
)
def test_cache_renews_when_margin_reached(lifetime: int, renews_after: int) -> None:
    """The cached UserSig is reused until less than max(10% of lifetime, 60 s) remains."""
    clock = FakeClock(T0 + 0.75)
    cache = UserSigCache(APP, KEY, USER, lifetime=lifetime, clock=clock)
    first = cache.current()
    assert decode_usersig(first).time == T0 and cache.expires_at == T0 + lifetime
    clock.now = T0 + renews_after  # exactly the margin remains: still cached
    assert cache.current() is first
    clock.now = T0 + renews_after + 0.5
    second = cache.current()
    fields = verify_usersig(second, sdk_app_id=APP, secret_key=KEY, identifier=USER, now=int(clock.now))
    assert (fields.time, fields.expire) == (T0 + renews_after, lifetime)
    assert cache.expires_at == T0 + renews_after + lifetime
    assert cache.current() is second


@pytest.mark.parametrize("lifetime", [0, -1])
def test_cache_rejects_non_positive_lifetime(lifetime: int) -> None:
    """A lifetime that cannot hold a valid UserSig is a usage error."""
    with pytest.raises(UsageError):
        UserSigCache(APP, KEY, USER, lifetime=lifetime)


def test_reprs_never_show_key_or_usersig() -> None:
    """UserSigCache and UserSigFields reprs show identity and expiry, never key, sig or UserSig."""
    cache = UserSigCache(APP, KEY, USER, clock=FakeClock(T0))
    usersig = cache.current()
    fields = decode_usersig(usersig)
    assert repr(cache) == f"UserSigCache(sdk_app_id={APP}, identifier='{USER}', expires_at={T0 + 86400})"
    for text in (repr(cache), str(cache), repr(fields), str(fields), repr(VECTOR_FIELDS)):
        for secret in (KEY, usersig, fields.sig, VECTOR, VECTOR_SIG):
            assert secret not in text
    assert "sig=" not in repr(fields)
