"""Is a webhook request TIM's? `SdkAppid` must be ours and, with a token, `Sign` must match.

TIM's webhook authentication (configured with a token in the console) adds `RequestTime` (unix
seconds) and `Sign` = hex SHA-256 of token + RequestTime to the query; a request more than a minute
away from our clock is refused, so a captured URL cannot be replayed later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..protocol.callbacks import MAX_CLOCK_SKEW, sign_matches

__all__ = ["Refusal", "check_query"]


@dataclass(frozen=True)
class Refusal(Exception):
    """Why a webhook request is refused: the HTTP status and the ErrorInfo of the TIM-shaped answer."""

    status: int
    reason: str

    def __str__(self) -> str:
        return self.reason


def check_query(
    query: Mapping[str, str], sdk_app_id: int, token: str | None, clock: Callable[[], float]
) -> str:
    """The request's CallbackCommand, once the query shows it comes from TIM for our app."""
    if query.get("SdkAppid") != str(sdk_app_id):
        raise Refusal(403, "SdkAppid does not match this app")
    if token is not None:
        _check_signature(query, token, clock)
    command = query.get("CallbackCommand", "")
    if not command or len(command) > 128:
        raise Refusal(400, "CallbackCommand is missing from the query")
    return command


def _check_signature(query: Mapping[str, str], token: str, clock: Callable[[], float]) -> None:
    request_time, given = query.get("RequestTime", ""), query.get("Sign", "")
    if not (request_time.isascii() and request_time.isdigit() and len(request_time) <= 12) or not given:
        raise Refusal(403, "webhook authentication: RequestTime and Sign are required")
    if abs(clock() - int(request_time)) > MAX_CLOCK_SKEW:
        raise Refusal(403, "webhook authentication: RequestTime is stale")
    if not sign_matches(token, request_time, given):
        raise Refusal(403, "webhook authentication: Sign does not match")
