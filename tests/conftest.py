"""Shared fixtures: the project's own pytest helpers as users get them, and the operation tests'
scenario (a dev server with group g1, clients alice and bob, one settable clock), and Redis
(`redis_url`: fails under CI=true, skips elsewhere, when Redis is unreachable; `redis_prefix`)."""

from redis_support import redis_prefix, redis_url
from scenario import alice, bob, clock, server

from aio_tim.testing import client_for, dev_server, tim

__all__ = ["alice", "bob", "client_for", "clock", "dev_server", "redis_prefix", "redis_url", "server", "tim"]
