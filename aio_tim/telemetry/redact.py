"""Keep TIM's secrets out of URLs recorded by someone else's instrumentation.

The stock aiohttp-client instrumentation redacts only a few cloud vendors' signature parameters,
so TIM's `usersig` would land in every span's `url.full`. Give it this filter:

    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from aio_tim.telemetry import redact_url

    AioHttpClientInstrumentor().instrument(url_filter=redact_url)
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "SECRET_PARAMETERS", "redact_url"]

REDACTED: Final = "REDACTED"
SECRET_PARAMETERS: Final = frozenset({"usersig", "sig", "sign", "token", "signature", "secret", "secretkey"})
"""Query parameters whose value is replaced (compared lower-cased): TIM's admin `usersig`, the
webhook `token`/`sign`, and signed file URLs."""


def redact_url(url: object) -> str:
    """`url` (a str or a `yarl.URL`) with user info dropped and every secret parameter's value
    replaced by REDACTED.

        >>> redact_url("https://x/v4/openim/sendmsg?sdkappid=1&usersig=eJw&random=7")
        'https://x/v4/openim/sendmsg?sdkappid=1&usersig=REDACTED&random=7'
    """
    parts = urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(
        [(key, REDACTED if key.lower() in SECRET_PARAMETERS else value) for key, value in pairs]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
