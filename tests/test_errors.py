"""The TIMError tree: which class each TIM code becomes, retryability, texts and pickling."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import pytest

from aio_tim.errors import (
    CODES,
    AuthError,
    ContentRejectedError,
    DownloadError,
    NotFoundError,
    RateLimitedError,
    TIMError,
    TransientError,
    TransportError,
    UsageError,
    error_for,
)

# (code, class, retryable, also-an-instance-of)
CODE_TABLE: list[tuple[int, type[TIMError], bool, tuple[type[BaseException], ...]]] = [
    # throttling: wait and retry
    (60007, RateLimitedError, True, ()),
    (60011, RateLimitedError, True, ()),
    (60018, RateLimitedError, True, ()),
    (60019, RateLimitedError, True, ()),
    (10006, RateLimitedError, True, ()),
    (10023, RateLimitedError, True, ()),
    # credentials
    (70001, AuthError, False, ()),
    (70003, AuthError, False, ()),
    (70009, AuthError, False, ()),
    (70013, AuthError, False, ()),
    (70014, AuthError, False, ()),
    (60010, AuthError, False, ()),
    # content
    (80001, ContentRejectedError, False, ()),
    (80002, ContentRejectedError, False, ()),
    # C SDK synchronous results
    (-3, UsageError, False, (ValueError,)),
    (-4, UsageError, False, (ValueError,)),
    (-5, UsageError, False, (ValueError,)),
    # missing things
    (70107, NotFoundError, False, (LookupError,)),
    (20022, NotFoundError, False, (LookupError,)),
    (10010, NotFoundError, False, (LookupError,)),
    # transport, download
    (9501, TransportError, True, (OSError, TransientError)),
    (9520, TransportError, True, (OSError, TransientError)),
    (6009, DownloadError, False, ()),
]


@pytest.mark.parametrize(("code", "cls", "retryable", "bases"), CODE_TABLE)
def test_error_for_maps_code_to_class(
    code: int, cls: type[TIMError], retryable: bool, bases: tuple[type[BaseException], ...]
) -> None:
    """error_for(code) builds the class of the CODES table, with the documented retryability."""
    assert CODES[code][0] is cls
    err = error_for(code, "server said so")
    assert type(err) is cls
    assert err.code == code
    assert err.desc == "server said so"
    assert err.retryable is retryable
    for base in bases:
        assert isinstance(err, base)


@pytest.mark.parametrize("code", [0, 1, 12345, 99999, -99])
def test_unknown_code_is_plain_non_retryable_tim_error(code: int) -> None:
    """A code missing from CODES gives a plain TIMError that is not retryable."""
    assert code not in CODES
    err = error_for(code)
    assert type(err) is TIMError
    assert err.retryable is False
    assert err.code == code
    assert err.desc


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_table_entry_builds_its_class_with_its_desc(code: int) -> None:
    """Every CODES entry builds its own class, and an empty desc falls back to the table's text."""
    cls, desc = CODES[code]
    assert desc
    err = error_for(code)
    assert type(err) is cls
    assert err.desc == desc
    assert TIMError(code).desc == desc
    assert err.retryable is issubclass(cls, RateLimitedError | TransientError)


def test_transport_error_is_os_error_and_transient() -> None:
    """TransportError is both an OSError and a retryable TransientError; it says whether it was sent."""
    err = TransportError(9501, "openim/sendmsg: cannot connect", sent=False)
    assert isinstance(err, OSError)
    assert isinstance(err, TransientError)
    assert isinstance(err, TIMError)
    assert err.retryable is True
    assert err.sent is False
    assert TransportError(9520, "timeout").sent is True


@pytest.mark.parametrize(
    ("cls", "base"),
    [(UsageError, ValueError), (NotFoundError, LookupError), (TransportError, OSError)],
)
def test_errors_catchable_as_builtin_bases(cls: type[TIMError], base: type[BaseException]) -> None:
    """Errors raise and are caught through their builtin base class as well as TIMError."""
    with pytest.raises(base) as caught:
        raise cls(1, "x")
    assert isinstance(caught.value, TIMError)


@pytest.mark.parametrize(
    "err",
    [
        TIMError(12345, "odd failure"),
        UsageError(-3, "invalid msg: bad key"),
        AuthError(70001, "UserSig expired"),
        RateLimitedError(60007, "too many"),
        NotFoundError(20022, "no such message"),
        ContentRejectedError(80001, "sensitive"),
        TransientError(70500, "internal"),
        TransportError(9501, "openim/sendmsg: connection lost (reset)"),
        DownloadError(6009, "expired"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_str_and_repr_carry_code_and_desc(err: TIMError) -> None:
    """str() is "[code] desc" and repr() names the class, the code and the desc."""
    assert str(err) == f"[{err.code}] {err.desc}"
    text = repr(err)
    assert text.startswith(type(err).__name__ + "(")
    assert str(err.code) in text
    assert repr(err.desc) in text


PICKLE_CASES = [
    TIMError(12345, "odd failure"),
    UsageError(-3, "invalid msg"),
    AuthError(70009, "signature"),
    RateLimitedError(60018, "too frequent"),
    NotFoundError(10010, "group gone"),
    ContentRejectedError(80002, "too long"),
    TransientError(60008, "timeout"),
    TransportError(9520, "openim/sendmsg: no reply in time"),
    DownloadError(6022, "io"),
    error_for(70107),
]


@pytest.mark.parametrize("err", PICKLE_CASES, ids=lambda e: f"{type(e).__name__}-{e.code}")
def test_errors_pickle_round_trip(err: TIMError) -> None:
    """pickle.loads(pickle.dumps(e)) keeps the class, the code, the desc and retryability."""
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert (back.code, back.desc, back.retryable) == (err.code, err.desc, err.retryable)
    assert str(back) == str(err)


CLONES: dict[str, Callable[[TransportError], TransportError]] = {
    "pickle": lambda e: pickle.loads(pickle.dumps(e)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("sent", [False, True])
@pytest.mark.parametrize("clone", sorted(CLONES))
def test_transport_error_copies_keep_sent(sent: bool, clone: str) -> None:
    """A pickled or copied TransportError keeps `sent`, which decides whether a retry may duplicate."""
    err = TransportError(9501, "openim/sendmsg: cannot connect (Connection refused)", sent=sent)
    back = CLONES[clone](err)
    assert type(back) is TransportError
    assert (back.code, back.desc) == (err.code, err.desc)
    assert back.sent is sent


def test_explicit_desc_wins_over_table_text() -> None:
    """error_for keeps the server's desc when given, and uses the table's text when it is empty."""
    assert error_for(70001, "UserSig expired at 12:00").desc == "UserSig expired at 12:00"
    assert error_for(70001, "").desc == CODES[70001][1]
