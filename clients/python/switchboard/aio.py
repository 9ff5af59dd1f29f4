"""The client for asyncio, without threads: `subscribe` (an async iterator), `history`, `heartbeat` and `Publisher`.

    async with subscribe(url, "events", {"topics": ["agent:*"]}, last_event_id="0") as subscription:
        async for event in subscription:
            if event.type == "agent.status":
                print(event.data["status"])

    async with Publisher(url) as publisher:
        publisher.publish({"type": "agent.log", "data": {...}})
        await publisher.flush(10)

They keep the promises of the blocking forms (`switchboard.subscribe`, `switchboard.Publisher`), which they
share their reading of the stream (`_stream.py`) and their buffer (`_outbox.py`) with; only the I/O differs.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, Optional

from . import _aio_http, presence
from ._http import backoff, endpoint, headers, retry_after
from ._outbox import (
    Bisect,
    Failed,
    Item,
    OnDrop,
    OnRetry,
    Outbox,
    PublisherStats,
    Rejected,
    Stored,
    answer,
    body_of,
    report,
    retrying,
)
from ._stream import (
    End,
    History,
    IdleTimeout,
    OnReconnect,
    OnUnknown,
    Retry,
    Stream,
    SubscriptionError,
    UnknownTypes,
    unreachable,
)
from .events import StreamItem
from .presence import HeartbeatError, HeartbeatResult
from .sse import Parser

__all__ = [
    "HeartbeatError",
    "HeartbeatResult",
    "Publisher",
    "Subscription",
    "SubscriptionError",
    "heartbeat",
    "history",
    "subscribe",
]

log = logging.getLogger("switchboard")


class Subscription:
    """An async iterator over a subscription's items that reconnects and resumes by itself.

    `last_event_id` is the cursor: the id of the last item yielded (or the one given at the start). `aclose()`
    (or leaving `async with`) ends the iteration; so does cancelling the task that iterates.
    """

    def __init__(
        self,
        url: str,
        procedure: str,
        input: Optional[Mapping[str, Any]] = None,
        last_event_id: Optional[str] = None,
        token: Optional[str] = None,
        *,
        retry_initial: float = 0.1,
        retry_max: float = 10.0,
        max_retries: Optional[int] = None,
        idle_timeout: Optional[float] = None,
        connect_timeout: float = 10.0,
        on_reconnect: Optional[OnReconnect] = None,
        on_unknown: Optional[OnUnknown] = None,
    ) -> None:
        self._stream = Stream(url, procedure, input, last_event_id, token, idle_timeout, on_unknown)
        self._retry = (retry_initial, retry_max)
        self._max_retries = max_retries
        self._connect_timeout = connect_timeout
        self._on_reconnect = on_reconnect
        self._closed = asyncio.Event()
        self._response: Optional[_aio_http.Response] = None
        self._items = self._run()

    @property
    def last_event_id(self) -> Optional[str]:
        """The cursor: the `id:` the server sent with the last item yielded (the event id and the log's epoch)."""
        return self._stream.last_event_id

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> StreamItem:
        return await self._items.__anext__()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Ends the iteration and closes the connection."""
        self._closed.set()
        if self._response is not None:
            # A read waiting in the iterating task sees the end of the stream, and the iteration ends.
            self._response.close()
        if not self._items.ag_running:
            await self._items.aclose()

    async def _run(self) -> AsyncGenerator[StreamItem, None]:
        attempt = 0
        while not self._closed.is_set():
            try:
                async for item in self._connect_and_read():
                    attempt = 0
                    yield item
                reason = "the stream ended"
            except Retry as error:
                reason = str(error)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
                reason = f"{type(error).__name__}: {error}"
            if self._closed.is_set():
                return
            attempt += 1
            if self._max_retries is not None and attempt > self._max_retries:
                raise ConnectionError(f"gave up after {self._max_retries} reconnects without an item: {reason}")
            delay = backoff(attempt, *self._retry)
            log.info(
                "subscription %s interrupted (%s); reconnect %d in %.1f s after id %s",
                self._stream.procedure,
                reason,
                attempt,
                delay,
                self.last_event_id,
            )
            if self._on_reconnect is not None:
                self._on_reconnect(reason, attempt, self.last_event_id)
            try:
                await asyncio.wait_for(self._closed.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def _connect_and_read(self) -> AsyncIterator[StreamItem]:
        url, request_headers = self._stream.request()
        response = await _aio_http.request("GET", url, request_headers, timeout=self._connect_timeout)
        self._response = response
        try:
            if response.status >= 300:
                raise self._stream.refused(response.status, response.reason, await response.read())
            self._stream.check_content_type(response.content_type)
            response.read_timeout = self._stream.idle_timeout
            parser = Parser(self.last_event_id)
            while not self._closed.is_set():
                try:
                    raw = await response.readline()
                except asyncio.TimeoutError:
                    raise Retry("no data within the inactivity timeout") from None
                if not raw:
                    return
                sse = parser.feed(raw)
                if sse is None:
                    continue
                step = self._stream.step(sse)
                if isinstance(step, End):
                    return
                if isinstance(step, IdleTimeout):
                    response.read_timeout = step.seconds
                elif step is not None:
                    yield step
        finally:
            self._response = None
            response.close()


def subscribe(
    url: str,
    procedure: str,
    input: Optional[Mapping[str, Any]] = None,
    last_event_id: Optional[str] = None,
    token: Optional[str] = None,
    **options: Any,
) -> Subscription:
    """`async for event in subscribe(url, "events", {"topics": ["agent:*"]}): ...`: the arguments, options,
    items and errors of `switchboard.subscribe`, for asyncio."""
    return Subscription(url, procedure, input, last_event_id, token, **options)


async def history(
    url: str,
    input: Optional[Mapping[str, Any]] = None,
    token: Optional[str] = None,
    timeout: float = 10.0,
    on_unknown: Optional[OnUnknown] = None,
) -> AsyncIterator[StreamItem]:
    """`async for event in history(url, {"topics": [...]}): ...`: `switchboard.history` for asyncio, with its
    errors (SubscriptionError when refused for good, ConnectionError when the server cannot be reached)."""
    pages = History(url, input, token)
    unknown = UnknownTypes(on_unknown)
    while not pages.done:
        address, request_headers = pages.request()
        status, reason, raw = await _exchange(url, "GET", address, request_headers, None, timeout)
        if status >= 300:
            raise pages.refused(status, reason, raw)
        for item in pages.page(raw, unknown):
            yield item


async def heartbeat(
    url: str, agent_ids: Sequence[str], token: Optional[str] = None, timeout: float = 10.0
) -> HeartbeatResult:
    """`await heartbeat(url, ["coder-001"])`: `switchboard.heartbeat` for asyncio, with its errors (HeartbeatError
    when the server refuses it, ConnectionError when it cannot be reached within `timeout` seconds)."""
    address, body, request_headers = presence.request_of(url, agent_ids, token)
    status, reason, raw = await _exchange(url, "POST", address, request_headers, body, timeout)
    if status >= 300:
        raise presence.refused(status, reason, raw)
    return presence.result_of(raw)


async def _exchange(
    url: str, method: str, address: str, request_headers: dict[str, str], body: Optional[bytes], timeout: float
) -> tuple[int, str, bytes]:
    """One request answered whole within `timeout`: its status, reason and body; ConnectionError for the hub at
    `url` out of reach."""
    try:
        response = await _aio_http.request(method, address, request_headers, body, timeout=timeout)
        try:
            response.read_timeout = timeout
            return response.status, response.reason, await response.read()
        finally:
            response.close()
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
        raise unreachable(url, error) from None


class Publisher:
    """Sends events to the hub from a task of the running event loop; see `switchboard.Publisher` for the
    guarantees and the arguments, which are the same. Create it inside a coroutine.

    `publish()` never raises and never waits: call it from the loop's thread. `await flush(timeout)` waits until
    every accepted event is stored; `await aclose(timeout)` (or leaving `async with`) stops it.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        buffer_size: int = 1000,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = 512 * 1024,
        retry_initial: float = 0.1,
        retry_max: float = 30.0,
        request_timeout: float = 10.0,
        on_drop: Optional[OnDrop] = None,
        on_retry: Optional[OnRetry] = None,
    ) -> None:
        self._outbox = Outbox(buffer_size, batch_size, max_batch_bytes)
        self._url = endpoint(url, "/ingest")
        self._token = token
        self._retry = (retry_initial, retry_max)
        self._request_timeout = request_timeout
        self._on_drop = on_drop
        self._on_retry = on_retry
        self._accepting = True
        self._stopping = False
        self._hurry = False
        # Set and replaced on every change (an event accepted, a batch answered, close() called): waiters hold the
        # one that was current when they began to wait.
        self._changed = asyncio.Event()
        self._sender = asyncio.get_running_loop().create_task(self._run(), name="switchboard-publisher")

    def publish(self, event: Mapping[str, Any]) -> Optional[str]:
        """Queues `event`; returns its idempotency key, or None when it was dropped (`on_drop` says why)."""
        try:
            prepared = self._outbox.prepare(event)
            drop = self._outbox.admit(prepared, self._accepting) if isinstance(prepared, Item) else prepared
            if drop is None and isinstance(prepared, Item):
                self._notify()
                return str(prepared.event["key"])
            if drop is not None:
                self._outbox.count(drop)
                report(drop, self._on_drop)
            return None
        except Exception:  # noqa: BLE001 - the contract: nothing raises into the orchestrator
            log.exception("publisher: publish failed unexpectedly; the event was not queued")
            return None

    async def flush(self, timeout: Optional[float] = None) -> int:
        """Waits until every accepted event is acknowledged, or `timeout` seconds; returns how many are left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._outbox.buffer and not self._stopping:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            await self._wait(remaining)
        return len(self._outbox.buffer)

    async def aclose(self, timeout: float = 5.0) -> int:
        """Stops accepting, tries to send what is left within `timeout` seconds (retrying at once instead of
        waiting out a backoff), stops the sender and returns how many events were left unsent."""
        self._accepting = False
        self._hurry = True
        self._notify()
        await self.flush(timeout)
        self._stopping = True
        self._notify()
        self._sender.cancel()
        try:
            await self._sender
        except asyncio.CancelledError:
            pass
        return len(self._outbox.buffer)

    def stats(self) -> PublisherStats:
        return self._outbox.stats()

    async def __aenter__(self) -> "Publisher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, timeout: Optional[float]) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _post(self, batch: list[Item]) -> tuple[int, Any, Optional[float]]:
        """Sends one batch; returns the HTTP status, the JSON answer and the seconds `Retry-After` asks to wait."""
        request_headers = headers(self._token, {"content-type": "application/json"})
        response = await _aio_http.request(
            "POST", self._url, request_headers, body_of(batch), timeout=self._request_timeout
        )
        try:
            response.read_timeout = self._request_timeout
            raw = await response.read()
        finally:
            response.close()
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = {"error": f"HTTP {response.status} {response.reason}"}
        return response.status, body, retry_after(response.headers.get("retry-after"))

    async def _run(self) -> None:
        try:
            await self._send_until_stopped()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - reported, and flush/aclose still answer with what is left
            log.exception("publisher: the sender stopped unexpectedly")

    async def _send_until_stopped(self) -> None:
        attempt = 0
        # After a 400, 403 or 413 without a per-event answer, events go one at a time to find the bad one.
        singles = 0
        while not self._stopping:
            if not self._outbox.buffer:
                await self._wait(None)
                continue
            batch = self._outbox.next_batch(singles > 0)
            try:
                status, body, wait = await self._post(batch)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
                status, body, wait = 0, {"error": f"{type(error).__name__}: {error}"}, None
            result = answer(status, body, len(batch), wait)
            if isinstance(result, Stored):
                self._outbox.acknowledge(len(batch))
                self._notify()
                attempt = 0
                singles = max(0, singles - 1)
            elif self._stopping:
                return
            elif isinstance(result, Rejected):
                drops = self._outbox.reject(batch, result.bad)
                for drop in drops:
                    self._outbox.count(drop)
                    report(drop, self._on_drop)
                self._notify()
                singles = max(0, singles - 1)
            elif isinstance(result, Bisect):
                singles = len(batch)
            elif isinstance(result, Failed):
                self._outbox.retried += len(batch)
                attempt += 1
                retrying(result.message, attempt, self._on_retry)
                if await self._wait_before_retry(attempt, result.retry_after):
                    attempt = 0

    async def _wait_before_retry(self, attempt: int, at_least: Optional[float]) -> bool:
        """Waits out the backoff, and at least what the server asked; True when aclose() cut it short, so the next
        retry starts a fresh backoff."""
        deadline = time.monotonic() + max(backoff(attempt, *self._retry), at_least or 0.0)
        while not (self._hurry or self._stopping):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self._wait(remaining)
        hurried, self._hurry = self._hurry, False
        return hurried
