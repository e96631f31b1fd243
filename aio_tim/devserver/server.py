"""`DevServer`: the embedded TIM-compatible REST server's lifecycle, settings and helpers."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
import warnings
from collections.abc import Callable, Iterable
from types import TracebackType

from aiohttp import web

from ..protocol import callbacks as cb
from ..protocol.limits import RATE_LIMITS, Limits
from ..telemetry import Telemetry
from . import dev_api
from .accounts import valid_user_id
from .admission import MAX_PENDING, Admission
from .authn import AdminGuard
from .context import Context
from .dev_api import DevAccess
from .faults import FaultSwitches
from .files import FileService
from .groups import GROUP_DEDUP_WINDOW, new_group
from .inspector import PATH as INSPECTOR_PATH
from .inspector import Inspector
from .journal import Journal
from .limits import RateLimiter
from .logs import RedactedAccessLogger, server_logger
from .openapi import openapi_handler
from .private import make_private
from .rest import MAX_BODY, RestEndpoint, default_routes
from .state import State
from .tracing import traced
from .webhooks import Webhooks

__all__ = ["KEEPALIVE_TIMEOUT", "DevServer"]

KEEPALIVE_TIMEOUT = 15.0
"""Seconds a connection may sit without a complete request (idle keep-alive, or headers that
trickle in) before the server closes it. Clients keep idle connections for less (aio_tim: 10 s)."""

_SECRET_KEY_META = "secret_key"


class DevServer:
    """A TIM REST v4 server on loopback, backed by sqlite, for tests, demos and `aio-tim serve`.

    It verifies UserSigs signed with `secret_key` for `admin`, answers TIM envelopes and
    error codes, and keeps messages for roaming, recall and unread counts:

        async with DevServer() as server:
            await server.add_accounts("alice", "bob")
            gid = await server.create_group("team", owner="alice", members=["bob"])
            ...  # POST {server.url}/v4/openim/sendmsg?sdkappid=...&identifier=administrator...

    With a file `db_path` the state (and a generated secret key) survives a restart.
    TIM's call frequency limits are enforced per endpoint (`limits` overrides them as the
    client's pipeline does; `enforce_limits=False` for raw speed). A repeated MsgRandom is a
    duplicate within `c2c_dedup_window` seconds (TIM: 1), a repeated group Random within
    `group_dedup_window` (TIM: 300).
    `clock` (unix seconds) and `rng` are injectable so expiry and dedup windows test
    deterministically. At most `max_pending` REST calls wait for the state at once (more are
    answered 60018 "too frequent" at once; see `admission`), and a connection without a complete
    request for `keepalive_timeout` seconds is closed.
    With `webhook_url` (or `set_webhook()` later) it calls the app's webhooks as
    TIM does, signed with `webhook_token`, for `webhook_commands` (default: all). As on TIM,
    batchsendmsg fires no callbacks unless `webhook_batch_sends=True` (one after-send per recipient).
    With `telemetry` (an `aio_tim.telemetry.Telemetry` whose provider is set) each REST call is a
    SERVER span continuing the caller's trace:

        server.set_webhook(await tim.listen(), token=None)   # tim: a Client bound to this server

    `faults` switches TIM error codes, latency, failing webhook deliveries and the rate limits on
    purpose (also over HTTP at `/_dev/faults` and `/_dev/limits`; see `faults` and `dev_api`):

        server.faults.add("openim/sendmsg", error_code=60018, count=2)
    """

    def __init__(
        self,
        *,
        db_path: str | os.PathLike[str] = ":memory:",
        host: str = "127.0.0.1",
        port: int = 0,
        sdk_app_id: int = 1400000000,
        secret_key: str | None = None,
        admin: str = "administrator",
        auto_accounts: bool = True,
        c2c_dedup_window: int = 1,
        group_dedup_window: int = GROUP_DEDUP_WINDOW,
        enforce_limits: bool = True,
        limits: Limits | None = RATE_LIMITS,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        max_pending: int = MAX_PENDING,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        webhook_url: str | None = None,
        webhook_token: str | None = None,
        webhook_commands: Iterable[str] | None = None,
        webhook_batch_sends: bool = False,
        telemetry: Telemetry | None = None,
    ) -> None:
        if c2c_dedup_window < 1 or group_dedup_window < 1:
            raise ValueError("c2c_dedup_window and group_dedup_window must be at least 1 second")
        if secret_key == "":
            raise ValueError("secret_key must not be empty")
        if not valid_user_id(admin):
            raise ValueError("admin must be a UserID of 1 to 32 bytes")
        self._db_path = db_path
        self._host = host
        self._requested_port = port
        self._sdk_app_id = sdk_app_id
        # A generated key is replaced at start() by one an earlier run stored in the db.
        self._key_given = secret_key is not None
        self._secret_key = secret_key if secret_key is not None else secrets.token_hex(32)
        self._admin = admin
        self._auto_accounts = auto_accounts
        self._c2c_dedup_window = c2c_dedup_window
        self._group_dedup_window = group_dedup_window
        # Built here, not at start(): the fault switches turn its limits off and on at any time.
        self._limiter = RateLimiter(limits, clock, enabled=enforce_limits)
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._ctx: Context | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._files: FileService | None = None
        self._endpoints: list[str] = []  # the REST commands served, for the inspector's fault form
        self.admission = Admission(max_pending)
        """The REST backlog bound and its counters (`refused`, `abandoned`)."""
        self._keepalive_timeout = keepalive_timeout
        self._webhooks = Webhooks(sdk_app_id, clock, batch_sends=webhook_batch_sends)
        self._webhooks.configure(webhook_url, webhook_token, webhook_commands)
        self.faults = FaultSwitches(self._limiter, self._rng, default_routes(), cb.KNOWN_COMMANDS)
        """Fault switches: TIM errors, latency and failing webhooks on purpose (see `faults`)."""
        self._webhooks.faults = self.faults
        self.dev_access: DevAccess | None = None
        """Who may use the `/_dev/` API (set at start: it checks the admin's UserSigs)."""
        self.journal = Journal(clock=clock)
        """What the web inspector shows: REST calls, webhook deliveries, message changes."""
        self._webhooks.journal = self.journal
        self._telemetry = telemetry if telemetry is not None else Telemetry(enabled=False)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the database and start listening (inside the running loop)."""
        if self._ctx is not None:
            raise RuntimeError("DevServer is already running")
        make_private(self._db_path)  # it keeps the secret key: 0600, before sqlite opens it
        state = await State.open(self._db_path)
        try:
            await self._load(state)
            ctx = self._context(state)
            self._files = FileService.open(state, self._db_path, base_url=lambda: self.url, now=ctx.now)
            await self._webhooks.start()
            self._runner = await self._listen(ctx)
        except BaseException:
            await self._webhooks.aclose()
            self._close_files()
            await state.close()
            raise
        self._ctx = ctx
        self._port = int(self._runner.addresses[0][1])

    async def aclose(self) -> None:
        """Stop listening and close the database; safe to call twice."""
        runner, ctx = self._runner, self._ctx
        self._runner = self._ctx = None
        try:
            if runner is not None:
                await runner.cleanup()
            await self._webhooks.aclose()
        finally:
            self._close_files()
            if ctx is not None:
                await ctx.state.close()

    def _close_files(self) -> None:
        files, self._files = self._files, None
        if files is not None:
            files.close()  # removes the temporary folder of a :memory: server

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def serve_forever(self) -> None:
        """Serve until cancelled (Ctrl-C under `asyncio.run`), then close: `aio-tim serve`."""
        if self._ctx is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_runner", None) is not None:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self)

    async def _load(self, state: State) -> None:
        async with state.transaction():
            stored = await state.get_meta(_SECRET_KEY_META)
            if stored is not None and not self._key_given:
                self._secret_key = stored
            else:
                await state.set_meta(_SECRET_KEY_META, self._secret_key)
            await state.add_account(self._admin, int(self._clock()))

    def _context(self, state: State) -> Context:
        return Context(
            state=state,
            admin=self._admin,
            auto_accounts=self._auto_accounts,
            c2c_dedup_window=self._c2c_dedup_window,
            group_dedup_window=self._group_dedup_window,
            clock=self._clock,
            rng=self._rng,
            webhooks=self._webhooks,
            sdk_app_id=self._sdk_app_id,
            host=self._host,
        )

    async def _listen(self, ctx: Context) -> web.AppRunner:
        guard = AdminGuard(
            sdk_app_id=self._sdk_app_id,
            secret_key=self._secret_key,
            admin=self._admin,
            clock=self._clock,
        )
        app = web.Application(client_max_size=MAX_BODY)
        routes = default_routes()
        self._endpoints = sorted(routes)
        rest = RestEndpoint(ctx, guard, routes, self._limiter, self.admission, self.faults, self.journal)
        handle = traced(rest.handle, self._telemetry, routes) if self._telemetry.activate() else rest.handle
        app.router.add_route("*", "/v4/{service}/{command}", handle)
        app.router.add_route("*", "/v4{tail:(/.*)?}", rest.unknown_path)
        app.router.add_get("/healthz", _healthz)
        if self._files is not None:
            self._files.mount(app, guard)
        app.router.add_get("/openapi.json", openapi_handler(routes))
        self.dev_access = DevAccess(guard, self._host, self._sdk_app_id)
        dev_api.mount(app, self.faults, self.dev_access)
        inspector = Inspector(self.dev_access, ctx.state, self.journal, self._webhooks, self._public_settings)
        inspector.mount(app)
        runner = web.AppRunner(
            app,
            access_log_class=RedactedAccessLogger,
            logger=server_logger(),
            shutdown_timeout=1.0,
            keepalive_timeout=self._keepalive_timeout,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return runner

    # --- settings ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between `start()` and `aclose()`."""
        return self._ctx is not None

    @property
    def port(self) -> int:
        """The port it listens on (the free one picked when `port=0`)."""
        if self._port is None or not self.running:
            raise RuntimeError("DevServer is not running")
        return self._port

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. "http://127.0.0.1:54321"."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def inspector_url(self) -> str:
        """The web inspector's address: what this server did, live (see docs/inspector.md)."""
        return self.url + INSPECTOR_PATH

    def _public_settings(self) -> dict[str, object]:
        """What the inspector may show about the server: never its secret key."""
        settings = {"url": self.url, "sdk_app_id": self._sdk_app_id, "admin": self._admin}
        return settings | {"endpoints": self._endpoints}

    @property
    def sdk_app_id(self) -> int:
        """The SDKAppID UserSigs must name: give it to `Client(sdk_app_id=...)`."""
        return self._sdk_app_id

    @property
    def secret_key(self) -> str:
        """The key UserSigs must be signed with (final once the server has started)."""
        return self._secret_key

    @property
    def admin(self) -> str:
        """The App admin account REST calls must be signed as."""
        return self._admin

    def __repr__(self) -> str:
        url = self.url if self.running else None
        return f"<DevServer url={url!r} sdk_app_id={self._sdk_app_id} admin={self._admin!r}>"

    # --- webhooks ------------------------------------------------------------------------------

    def set_webhook(
        self, url: str | None, token: str | None = None, commands: Iterable[str] | None = None
    ) -> None:
        """Call `url` with TIM's webhooks from now on (None: stop); `token` signs them, `commands`
        limits which CallbackCommands fire (default: all):

            server.set_webhook(await tim.listen(), token="s3cret")
        """
        self._webhooks.configure(url, token, commands)

    async def webhooks_idle(self) -> None:
        """Wait until every webhook fired so far has been delivered (or has failed)."""
        await self._webhooks.idle()

    def webhook_statistics(self) -> dict[str, int]:
        """Webhooks delivered (the app answered), failed, and still queued."""
        return self._webhooks.statistics()

    # --- helpers for tests and demos -----------------------------------------------------------

    async def add_accounts(self, *user_ids: str) -> None:
        """Create accounts (existing ones are left as they are).

        Needed only with `auto_accounts=False`; otherwise accounts appear on first use:

            await server.add_accounts("alice", "bob")
        """
        ctx = self._running_context()
        bad = [u for u in user_ids if not valid_user_id(u)]
        if bad:
            raise ValueError(f"not valid UserIDs: {bad!r}")
        async with ctx.state.transaction():
            for user_id in user_ids:
                await ctx.state.add_account(user_id, ctx.now())

    async def create_group(
        self,
        group_id: str | None,
        owner: str | None = None,
        members: Iterable[str] = (),
        type: str = "Public",
        name: str | None = None,
        created: int | None = None,
    ) -> str:
        """Create a group, and any account it names; its id (generated when group_id is None).

        `type` is TIM's group type ("Public", "Private", "ChatRoom", ...). `created` (unix
        seconds, default now) backdates the group as TIM's import_group does: import_group_msg
        takes only messages from the group's creation on.

            group_id = await server.create_group("team", owner="alice", members=["bob", "carol"])
        """
        member_ids = list(members)
        await self.add_accounts(*(a for a in (owner, *member_ids) if a))
        ctx = self._running_context()
        async with ctx.state.transaction():
            name = name or group_id or "group"
            return await new_group(ctx, group_id, type, name, owner, member_ids, created=created)

    async def push_recipients(self, task_id: str) -> list[str] | None:
        """The accounts an `all_member_push/im_push` reached (None: no such TaskId)."""
        ctx = self._running_context()
        async with ctx.state.transaction():
            return await ctx.state.push_recipients(task_id)

    async def group_notices(self, group_id: str) -> list[tuple[str, list[str], int]]:
        """The group's system notifications (send_group_system_notification): (Content,
        recipients, unix time) each, oldest first."""
        ctx = self._running_context()
        async with ctx.state.transaction():
            return await ctx.state.notices(group_id)

    async def group_unread(self, group_id: str, account: str) -> int | None:
        """The unread count set_unread_msg_num last gave `account` in the group (None: never)."""
        return await self._running_context().state.group_unread(group_id, account)

    def set_online_state(self, user_id: str, state: str = "Online") -> None:
        """What query_online_status reports for `user_id`: "Online", "PushOnline" or "Offline".

        Nobody logs in to a dev server, so every account is "Offline" until a test says otherwise:

            server.set_online_state("alice")            # Online
            server.set_online_state("alice", "Offline")
        """
        if state not in ("Online", "PushOnline", "Offline"):
            raise ValueError(f"state must be Online, PushOnline or Offline, not {state!r}")
        online = self._running_context().online
        if state == "Offline":
            online.pop(user_id, None)
        else:
            online[user_id] = state

    @property
    def files(self) -> FileService:
        """The attachment file service (`POST /files`, `GET /files/<id>`) and its test hooks."""
        if self._files is None or not self.running:
            raise RuntimeError("DevServer is not running; use `async with DevServer()`")
        return self._files

    def _running_context(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("DevServer is not running; use `async with DevServer()`")
        return self._ctx


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")
