"""A :class:`~txsync.http.RateLimiter` shared by every process and machine through Redis.

One exchange IP has one weight budget, however many workers call from it: Binance bans the IP (418)
when the sum of every worker's requests keeps going past its limits. :class:`RedisRateLimiter` keeps
the state of each limit in Redis and changes it only inside one Lua script per operation, so that
checking whether a request fits in every limit it costs in and counting it there is atomic across
all workers:

* fixed windows (:class:`~txsync.http.Bucket`) and decaying counters
  (:class:`~txsync.http.DecayingCounter`), measured on the Redis server's clock (``TIME``), so
  workers whose clocks disagree still agree on the windows;
* usage headers (``X-MBX-USED-WEIGHT-1M``...) raise the shared count to what the exchange reports;
* a ``Retry-After`` or a ban (418) seen by one worker holds back every worker of that key until it
  ends (:meth:`RedisRateLimiter.penalize`).

Why a Lua script rather than the ``limits`` library: ``limits`` meters one limit per call with a
cost, but cannot check and take several limits at once, set a count from a server's usage header,
share a ban window, or drain a Kraken-style counter; each of those would be a second, racing round
trip. One script of some forty lines does all of it in one atomic call.

The limiters are built by a :class:`RedisLimiterRegistry`, a drop-in
:class:`~txsync.connector.LimiterRegistry`: connectors keep asking it for a limiter by key (per IP,
per account, per API key) with a factory building a :class:`~txsync.http.WeightedRateLimiter`; the
registry reads the limits from that limiter and returns a Redis limiter of the same limits under the
same key instead. :func:`open_limiters` builds a registry from a URL, and the engine uses the one
``TXSYNC_LIMITER_URL`` names when no registry is given.

When Redis cannot be reached or answers an error, every operation raises
:class:`~txsync.errors.RateLimiterUnavailableError`: a sync stops rather than run unlimited.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from txsync.connector.context import LimiterRegistry
from txsync.errors import ConfigurationError, RateLimiterUnavailableError
from txsync.http.ratelimit import Bucket, DecayingCounter, Limit, WeightedRateLimiter, checked_weights
from txsync.http.waits import notify_wait

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = [
    "LIMITER_URL_ENV",
    "RedisLimiterRegistry",
    "RedisRateLimiter",
    "default_limiters",
    "open_limiters",
]

#: The environment variable naming the limiter backend the engine uses by default
#: (``redis://host:6379/0``; unset or ``memory://``: in-process limiters).
LIMITER_URL_ENV = "TXSYNC_LIMITER_URL"

#: The prefix of every key the limiters write.
DEFAULT_PREFIX = "txsync:rl:"
#: The share of each limit the shared limiters leave unused. A request granted at the very end of a
#: window can reach the exchange in the next one, where the workers have already been granted that
#: window's whole budget; the exchange then counts more than its limit (a 429). 2 % of Binance's minute
#: absorbs the requests of the last ~1.2 s of a window arriving late. 0 uses every last unit.
DEFAULT_HEADROOM = 0.02

# One script for every operation. KEYS[1] is the ban key, KEYS[2..] the limits; ARGV[1] the operation
# ("acquire", "observe", "penalize", "levels"), ARGV[2] the penalty in seconds, then five values per
# limit: kind ("w" window, "c" counter), limit, period (window) or drain per second (counter), the weight
# to take (acquire) and the usage a response reported ("" for none; applied first, by acquire and
# observe, and only ever raising a count). It answers {granted 0/1, seconds to wait, server time,
# seconds of ban left, level of each limit...} as strings (Lua numbers would be truncated to integers).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local op = ARGV[1]
if op == 'penalize' then
  local untilt = now + tonumber(ARGV[2])
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  if untilt > cur then
    redis.call('SET', KEYS[1], string.format('%.6f', untilt), 'PX', math.ceil((untilt - now) * 1000) + 1)
  end
  return {'1', '0', string.format('%.6f', now), string.format('%.6f', untilt - now)}
end
local ban = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = #KEYS - 1
local state = {}
local wait = 0
for i = 1, n do
  local base = 5 * i - 2
  local kind = ARGV[base]
  local limit = tonumber(ARGV[base + 1])
  local rate = tonumber(ARGV[base + 2])
  local weight = tonumber(ARGV[base + 3]) or 0
  local reported = tonumber(ARGV[base + 4])
  local key = KEYS[i + 1]
  local mark, level, ttl, dirty
  if kind == 'w' then
    mark = math.floor(now / rate)
    local h = redis.call('HMGET', key, 'w', 'u')
    local stored = tonumber(h[1])
    level = 0
    if stored ~= nil and stored >= mark then
      mark = stored
      level = tonumber(h[2])
    end
    if reported ~= nil and math.ceil(reported) > level then
      level = math.ceil(reported)
      dirty = true
    end
    if op == 'acquire' and weight > 0 and level + weight > math.max(limit, weight) then
      wait = math.max(wait, (mark + 1) * rate - now)
    end
    ttl = math.ceil(rate * 2000)
  else
    local h = redis.call('HMGET', key, 'v', 't')
    level = tonumber(h[1]) or 0
    mark = tonumber(h[2]) or now
    if now > mark then
      level = math.max(0, level - (now - mark) * rate)
      mark = now
    end
    if reported ~= nil and reported > level then
      level = reported
      dirty = true
    end
    if op == 'acquire' and weight > 0 and level + weight > math.max(limit, weight) then
      wait = math.max(wait, math.max((level + weight - math.max(limit, weight)) / rate, 0.001))
    end
    ttl = math.ceil((limit / rate + 1) * 1000)
  end
  state[i] = {kind = kind, key = key, mark = mark, level = level, weight = weight, ttl = ttl, dirty = dirty}
end
local granted = '1'
if op == 'acquire' then
  if ban > now then
    wait = math.max(wait, ban - now)
  end
  if wait > 0 then
    granted = '0'
  else
    for i = 1, n do
      if state[i].weight > 0 then
        state[i].level = state[i].level + state[i].weight
        state[i].dirty = true
      end
    end
  end
end
local out = {granted, string.format('%.6f', wait), string.format('%.6f', now),
             string.format('%.6f', math.max(0, ban - now))}
for i = 1, n do
  local s = state[i]
  if s.dirty then
    if s.kind == 'w' then
      redis.call('HSET', s.key, 'w', s.mark, 'u', s.level)
    else
      redis.call('HSET', s.key, 'v', string.format('%.6f', s.level), 't', string.format('%.6f', s.mark))
    end
    redis.call('PEXPIRE', s.key, s.ttl)
  end
  out[#out + 1] = string.format('%.6f', s.level)
end
return out
"""


def _describe_url(url: str) -> str:
    """``redis://host:port/db`` without user or password (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _RedisConnection:
    """One Redis server, with one asyncio client (and its registered script) per event loop.

    An asyncio Redis client belongs to the event loop it first ran in; an engine driven by
    ``sync_blocking`` runs each sync in a loop of its own, so each loop gets its own client.
    """

    def __init__(self, url: str, *, timeout: float, client: Redis | None = None) -> None:
        self.url = url
        self.where = _describe_url(url)
        self.timeout = timeout
        self._given = client
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Redis, AsyncScript]] = (
            weakref.WeakKeyDictionary()
        )

    def script(self) -> AsyncScript:
        loop = asyncio.get_running_loop()
        held = self._clients.get(loop)
        if held is None:
            if self._given is not None:
                client = self._given
            else:
                from redis.asyncio import Redis

                client = Redis.from_url(
                    self.url,
                    socket_connect_timeout=self.timeout,
                    socket_timeout=self.timeout,
                    decode_responses=True,
                )
            held = self._clients[loop] = (client, client.register_script(_SCRIPT))
        return held[1]

    async def run(self, keys: Sequence[str], args: Sequence[str | float | int]) -> list[str]:
        """Run the script; any Redis failure becomes a :class:`RateLimiterUnavailableError`."""
        from redis.exceptions import RedisError

        try:
            result = await self.script()(keys=list(keys), args=list(args))
        except RedisError as exc:
            raise RateLimiterUnavailableError(
                f"the shared rate limiter cannot use Redis at {self.where}: {type(exc).__name__}"
            ) from None
        except OSError as exc:
            raise RateLimiterUnavailableError(
                f"the shared rate limiter cannot reach Redis at {self.where}: {type(exc).__name__}"
            ) from None
        return [str(item) for item in result]

    async def aclose(self) -> None:
        """Close the client of the running loop (the others close with their loops)."""
        loop = asyncio.get_running_loop()
        held = self._clients.pop(loop, None)
        if held is not None and self._given is None:
            await held[0].aclose()


def _encode(limit: Limit, headroom: float) -> tuple[str, str, str]:
    """The script's kind, cap (the limit less the headroom) and period or drain of a limit."""
    if isinstance(limit, DecayingCounter):
        return "c", repr(float(limit.limit) * (1 - headroom)), repr(float(limit.decay))
    return "w", str(math.floor(limit.limit * (1 - headroom))), repr(float(limit.period))


class RedisRateLimiter:
    """A :class:`~txsync.http.RateLimiter` whose limits live in Redis, shared by every worker that
    uses the same ``key`` (and prefix) on the same server.

    ``headroom`` is the share of each limit left unused (:data:`DEFAULT_HEADROOM`, 2 %): requests
    granted at the very end of a window may reach the exchange in the next one, whose budget the
    workers have already been granted. A request heavier than the capped budget still goes alone in
    an empty window.

    ``limits`` are the same :class:`~txsync.http.Bucket` and :class:`~txsync.http.DecayingCounter`
    values the in-memory :class:`~txsync.http.WeightedRateLimiter` takes; ``key`` says what shares
    them (``"binance:ip:office:spot"``, ``"binance:uid:<account>"``). Every worker must declare the
    same limits for a key.

    :meth:`acquire` runs one atomic script: a request is counted only when it fits in every limit it
    names and no ban is running; otherwise it sleeps for what the script says and tries again.
    :meth:`observe` and :meth:`penalize` are synchronous in the protocol, so they queue their update;
    :meth:`flush` sends what is queued (the HTTP client awaits it after every response), so a 418 seen
    by one worker holds the others back before this worker's request returns, and a usage header
    reporting more than this worker saw reaches the others at once. Reports still queued ride along
    with the next :meth:`acquire`.
    """

    def __init__(
        self,
        connection: _RedisConnection,
        key: str,
        limits: Sequence[Limit],
        *,
        prefix: str = DEFAULT_PREFIX,
        headroom: float = DEFAULT_HEADROOM,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if not 0 <= headroom < 1:
            raise ConfigurationError("headroom must be a fraction in [0, 1)")
        self.headroom = headroom
        names: dict[str, Limit] = {}
        for limit in limits:
            if limit.name in names:
                raise ConfigurationError(f"duplicate rate-limit bucket {limit.name!r}")
            names[limit.name] = limit
        if not names:
            raise ConfigurationError("a shared rate limiter needs at least one limit")
        self._connection = connection
        self._limits = names
        self.key = key
        # One hash tag per limiter: every key a script touches is in one Redis Cluster slot.
        tagged = f"{prefix}{{{key}}}"
        self._ban_key = f"{tagged}:ban"
        self._keys = {name: f"{tagged}:{name}" for name in names}
        self._sleep = sleep
        self._queued_reports: dict[str, float] = {}
        self._queued_penalty = 0.0
        #: Per window bucket: the shared count at the last answer, and the local monotonic time its
        #: window ends.
        self._seen: dict[str, tuple[float, float]] = {}
        #: Local view of the shared ban's end (``time.time()``), for :meth:`blocked_for`.
        self._blocked_until = -math.inf
        #: The Redis server time (seconds) of the last grant, for tests and benchmarks.
        self.last_granted_at: float | None = None

    @property
    def buckets(self) -> tuple[Limit, ...]:
        """The configured limits, in declaration order."""
        return tuple(self._limits.values())

    async def _run(
        self,
        op: str,
        names: Sequence[str],
        weights: Mapping[str, int] | None = None,
        reports: Mapping[str, float] | None = None,
        penalty: float = 0.0,
    ) -> list[str]:
        keys = [self._ban_key, *(self._keys[name] for name in names)]
        args = [op, repr(penalty)]
        for name in names:
            reported = (reports or {}).get(name)
            args.extend((
                *_encode(self._limits[name], self.headroom),
                str((weights or {}).get(name, 0)),
                "" if reported is None else repr(reported),
            ))
        return await self._connection.run(keys, args)

    async def acquire(self, weights: Mapping[str, int]) -> None:
        """Wait until ``weights`` fits in every shared limit it names and no ban runs, then count it.

        Raises :class:`~txsync.errors.ConfigurationError` for an unknown bucket, a negative weight or
        one larger than its limit, and :class:`~txsync.errors.RateLimiterUnavailableError` when Redis
        fails.
        """
        await self.reserve(weights)

    async def reserve(self, weights: Mapping[str, int]) -> float:
        """:meth:`acquire`, returning the Redis server time (seconds since the epoch) of the grant."""
        costs = self._validate(weights)
        await self._send_penalty()
        while True:
            # The usage reports queued since the last call ride along (applied before the check).
            reports, self._queued_reports = self._queued_reports, {}
            names = list(dict.fromkeys([*costs, *reports])) or [next(iter(self._limits))]
            # Taken before the call: a window is taken to end no later than it does, however late the
            # answer is read (a busy event loop), so a report from the next window is never dropped.
            sent_at = time.monotonic()
            try:
                result = await self._run("acquire", names, costs, reports)
            except BaseException:
                self._requeue(reports)
                raise
            granted, wait, now = result[0] == "1", float(result[1]), float(result[2])
            self._remember(names, result, now, sent_at)
            if granted:
                self.last_granted_at = now
                return now
            banned = float(result[3])
            if banned > 0:
                self._blocked_until = max(self._blocked_until, time.time() + banned)
            notify_wait(wait, "rate limit")
            await self._sleep(wait)

    def observe(self, headers: httpx.Headers) -> None:
        """Queue the usage each limit's header reports: the next :meth:`acquire` (or :meth:`flush`)
        raises the shared counts to it, in the same script call."""
        for name, limit in self._limits.items():
            header = limit.usage_header
            raw = headers.get(header) if header is not None else None
            if raw is None:
                continue
            try:
                reported = float(raw.strip())
            except ValueError:
                continue
            if math.isfinite(reported) and reported >= 0:
                self._queued_reports[name] = max(reported, self._queued_reports.get(name, 0.0))

    def penalize(self, seconds: float) -> None:
        """Queue a ban of ``seconds`` from now for every worker of this key (sent by :meth:`flush`, which
        the HTTP client awaits before the failed request returns); this worker honours it at once."""
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        self._queued_penalty = max(self._queued_penalty, seconds)
        self._blocked_until = max(self._blocked_until, time.time() + seconds)

    async def flush(self) -> None:
        """Send a queued penalty, and the queued usage reports that would raise a shared count, to Redis.

        A report no higher than the count this worker saw at its last grant in the same window says
        nothing new (the shared count only grows within a window) and is dropped: with txsync the only
        client of a key, responses cost no Redis call. A higher one (weight spent by someone else) is
        sent at once, so every worker sees it.
        """
        await self._send_penalty()
        if not self._queued_reports:
            return
        now = time.monotonic()
        queued = {
            name: value for name, value in self._queued_reports.items()
            if not (name in self._seen and self._seen[name][1] > now and value <= self._seen[name][0])
        }
        self._queued_reports = {}
        if not queued:
            return
        try:
            await self._run("observe", list(queued), reports=queued)
        except BaseException:
            self._requeue(queued)
            raise

    async def _send_penalty(self) -> None:
        penalty = self._queued_penalty
        if not penalty:
            return
        self._queued_penalty = 0.0
        try:
            await self._run("penalize", [next(iter(self._limits))], penalty=penalty)
        except BaseException:
            self._queued_penalty = max(self._queued_penalty, penalty)
            raise

    def _remember(self, names: Sequence[str], result: list[str], now: float, sent_at: float) -> None:
        """Note each window's shared count as of this answer, and until when (local monotonic time,
        counted from when the call was sent) that window lasts."""
        for name, level in zip(names, result[4:], strict=True):
            limit = self._limits[name]
            if isinstance(limit, Bucket):
                left = (math.floor(now / limit.period) + 1) * limit.period - now
                self._seen[name] = (float(level), sent_at + left)

    def _requeue(self, reports: Mapping[str, float]) -> None:
        for name, value in reports.items():
            self._queued_reports[name] = max(value, self._queued_reports.get(name, 0.0))

    async def levels(self) -> dict[str, float]:
        """Each shared limit's current value: weight in a bucket's window, a counter's level."""
        await self.flush()
        names = list(self._limits)
        result = await self._run("levels", names)
        return {name: float(value) for name, value in zip(names, result[4:], strict=True)}

    async def usage(self) -> dict[str, int]:
        """:meth:`levels` rounded up to whole weights."""
        return {name: math.ceil(value) for name, value in (await self.levels()).items()}

    async def banned_for(self) -> float:
        """Seconds left of the shared ban of this key (0 when none), as Redis holds it."""
        await self.flush()
        result = await self._run("levels", [next(iter(self._limits))])
        wait = float(result[3])
        if wait > 0:
            self._blocked_until = max(self._blocked_until, time.time() + wait)
        return wait

    def blocked_for(self) -> float:
        """Seconds left of the last ban this worker set or met (0 when none); without a Redis call."""
        return max(0.0, self._blocked_until - time.time())

    def _validate(self, weights: Mapping[str, int]) -> dict[str, int]:
        limits = {name: (limit.limit, f"limit {limit.limit:g}") for name, limit in self._limits.items()}
        return checked_weights(weights, limits)

    def __repr__(self) -> str:
        limits = ", ".join(self._limits)
        return f"RedisRateLimiter(key={self.key!r}, limits={limits}, redis={self._connection.where!r})"


class RedisLimiterRegistry(LimiterRegistry):
    """A :class:`~txsync.connector.LimiterRegistry` whose limiters are shared through Redis.

    Connectors ask for a limiter by key with a factory building a
    :class:`~txsync.http.WeightedRateLimiter`; this registry builds it once to read its limits and
    returns a :class:`RedisRateLimiter` of those limits under the same key. A limiter on a simulated
    clock (a benchmark's virtual time) or of another class (a connector's own subclass translating
    headers) is kept in-process as built.

    ``url`` is ``redis://[:password@]host:port/db`` (or ``rediss://``); ``client`` replaces the
    client built from it (a host's own ``redis.asyncio.Redis``, used from one event loop only);
    ``prefix`` namespaces the keys (two deployments on one Redis stay apart); ``headroom`` is the share
    of each limit left unused (see :class:`RedisRateLimiter`); ``timeout`` bounds connecting and each
    call in seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        headroom: float = DEFAULT_HEADROOM,
        timeout: float = 5.0,
        client: Redis | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__()
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigurationError(f"not a Redis URL: {_describe_url(url)!r}")
        try:
            import redis  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "the shared rate limiter needs the redis extra: pip install 'txsync[redis]'"
            ) from exc
        if not 0 <= headroom < 1:
            raise ConfigurationError("headroom must be a fraction in [0, 1)")
        self.prefix = prefix
        self.headroom = headroom
        self._connection = _RedisConnection(url, timeout=timeout, client=client)
        self._sleep = sleep

    def shared(self, key: str, limits: Sequence[Limit]) -> RedisRateLimiter:
        """A Redis limiter of ``limits`` under ``key`` (not remembered by the registry)."""
        return RedisRateLimiter(
            self._connection, key, limits, prefix=self.prefix, headroom=self.headroom, sleep=self._sleep
        )

    def get(self, key: str, factory: Callable[[], Any]) -> Any:
        """The limiter for ``key``: a shared Redis limiter of the limits ``factory``'s limiter has."""

        def build() -> Any:
            made = factory()
            if type(made) is WeightedRateLimiter and made.clock is time.time:
                return self.shared(key, made.buckets)
            return made

        return super().get(key, build)

    async def aclose(self) -> None:
        """Close the Redis client of the running event loop."""
        await self._connection.aclose()

    def __repr__(self) -> str:
        return f"RedisLimiterRegistry(redis={self._connection.where!r}, prefix={self.prefix!r})"


def open_limiters(url: str | None, **options: Any) -> LimiterRegistry:
    """The limiter registry a URL names: ``None``, ``""`` or ``memory://`` -> in-process limiters (the
    default); ``redis://...`` or ``rediss://...`` -> a :class:`RedisLimiterRegistry` (``options`` go
    to it). Anything else is a :class:`~txsync.errors.ConfigurationError`."""
    if not url or url == "memory://":
        return LimiterRegistry()
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return RedisLimiterRegistry(url, **options)
    raise ConfigurationError(
        f"unknown rate limiter backend {scheme or url!r}: use memory:// or redis://host:port/db"
    )


def default_limiters() -> LimiterRegistry:
    """The registry the engine uses when none is given: per :data:`LIMITER_URL_ENV`, else in-process."""
    return open_limiters(os.environ.get(LIMITER_URL_ENV))


