"""The embedded TIM-compatible REST v4 server (aiohttp.web + aiosqlite).

    async with DevServer() as server:
        ...  # point a client at server.url, sign as server.admin with server.secret_key

Modules: `server` (DevServer lifecycle and helpers), `rest` (routing, envelopes), `authn`
(UserSig checks), `validation` (strict decoding, TIM error codes), `logs` (logging without
secrets), `state` and `schema` (sqlite), and the endpoint handlers in `accounts`, `c2c`,
`c2c_history` and `groups`.
"""

from .server import DevServer

__all__ = ["DevServer"]
