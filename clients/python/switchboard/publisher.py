"""The orchestrator's sink over `POST /ingest`.

`publish()` never raises and never waits on the network: it serialises the event, gives it an idempotency key
and appends it to a bounded buffer under a lock held for a few microseconds. One background thread drains the
buffer in order, in batches (a JSON array per request), retrying with exponential backoff and jitter while the
hub is away. An event leaves the buffer only once the server has answered for it, so a batch whose answer was
lost (sent, then the connection died) is sent again under the same keys and the server returns the stored
events instead of storing them twice.
"""

import asyncio
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional

from ._http import backoff, endpoint, headers, open_url, read_error
from .superjson import format_date

log = logging.getLogger("switchboard")

#: Why an event will never be stored. `buffer_full` and `closed` are counted in `dropped`; `invalid` (refused
#: before sending: not JSON, not an object with `type` and `data`) and `rejected_by_server` (a 400 naming it,
#: or a 413 for an event too large on its own) in `rejected`.
DropReason = str

OnDrop = Callable[[Mapping[str, Any], DropReason, str], None]
OnRetry = Callable[[str, int], None]


@dataclass(frozen=True)
class PublisherStats:
    #: Accepted, not yet acknowledged by the server.
    queued: int
    #: Acknowledged by the server (stored, or found stored under its key).
    sent: int
    #: Events sent again after a failed or unanswered request.
    retried: int
    #: Refused because the buffer was full (the newest event is the one dropped) or the publisher was closed.
    dropped: int
    #: Invalid: refused locally or by the server; retrying cannot help.
    rejected: int


class _Item:
    __slots__ = ("event", "body")

    def __init__(self, event: Mapping[str, Any], body: bytes) -> None:
        self.event = event
        self.body = body


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_date(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class Publisher:
    """Sends events to the hub in the background. Thread-safe; see the module docstring for the guarantees.

    From asyncio code, call `publish()` directly (it never blocks the loop) and `await publisher.flush_async()`
    / `await publisher.aclose()`, which wait in a worker thread.
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
        """
        url: the hub's base URL, e.g. `http://127.0.0.1:8765`.
        token: a publisher (or admin) token, sent as `Authorization: Bearer`.
        buffer_size: events waiting at most; when full, `publish()` drops the new event (drop-newest), counts
            it in `dropped` and calls `on_drop(event, "buffer_full", message)`.
        batch_size: events per request, at most; the server refuses more than 1,000 (limits.batchSize).
        max_batch_bytes: bytes of JSON per request, at most (one larger event still goes alone); keep it under
            the server's ingest body limit of 1 MiB.
        retry_initial, retry_max: backoff between failed requests, in seconds, doubling, with jitter.
        request_timeout: a request not answered within this is abandoned and retried under the same keys.
        on_drop(event, reason, message): called for every event that will never be stored.
        on_retry(message, attempt): called when a request fails and will be retried.
        """
        if buffer_size < 1 or batch_size < 1:
            raise ValueError("buffer_size and batch_size must be at least 1")
        self._url = endpoint(url, "/ingest")
        self._token = token
        self._buffer_size = buffer_size
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._retry = (retry_initial, retry_max)
        self._request_timeout = request_timeout
        self._on_drop = on_drop
        self._on_retry = on_retry

        self._key_prefix = f"py-{uuid.uuid4()}"
        self._next_key = itertools.count()
        self._buffer: deque[_Item] = deque()
        self._lock = threading.Lock()
        # Signalled when the buffer gains an event, when it empties, and when close() wants the sender to hurry.
        self._changed = threading.Condition(self._lock)
        self._accepting = True
        self._stopping = False
        self._hurry = False
        self._sent = 0
        self._retried = 0
        self._dropped = 0
        self._rejected = 0
        self._thread = threading.Thread(target=self._run, name="switchboard-publisher", daemon=True)
        self._thread.start()

    # ── The orchestrator's side ──────────────────────────────────────────────────────────────────────────

    def publish(self, event: Mapping[str, Any]) -> Optional[str]:
        """Queues `event` (the `publish` input: `type`, `data`, optional `key`, `source`, `correlationId`,
        `timestamp` as a datetime or ISO-8601 string). Returns its idempotency key, or None when it was dropped
        (then `on_drop` says why). Never raises, never blocks on the network."""
        try:
            if not isinstance(event, Mapping) or not isinstance(event.get("type"), str) or "data" not in event:
                return self._drop(event, "invalid", "an event is a mapping with a string `type` and a `data` object")
            key = event.get("key") or f"{self._key_prefix}:{next(self._next_key)}"
            queued = dict(event)
            queued["key"] = key
            try:
                # Serialised now: a caller that changes its dict later cannot change what is sent.
                body = json.dumps(queued, default=_json_default, separators=(",", ":")).encode("utf-8")
            except (TypeError, ValueError) as error:
                return self._drop(event, "invalid", f"not JSON: {error}")
            with self._changed:
                if not self._accepting:
                    reason = "closed"
                elif len(self._buffer) >= self._buffer_size:
                    reason = "buffer_full"
                else:
                    self._buffer.append(_Item(queued, body))
                    self._changed.notify_all()
                    return str(key)
            if reason == "closed":
                return self._drop(event, reason, "the publisher is closed")
            return self._drop(
                event, reason, f"the buffer holds {self._buffer_size} events (buffer_size); this one was dropped"
            )
        except Exception:  # noqa: BLE001 - the contract: nothing raises into the orchestrator
            log.exception("publisher: publish failed unexpectedly; the event was not queued")
            return None

    def flush(self, timeout: Optional[float] = None) -> int:
        """Waits until every accepted event is acknowledged, or `timeout` seconds; returns how many are left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._buffer and not self._stopping:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
            return len(self._buffer)

    def close(self, timeout: float = 5.0) -> int:
        """Stops accepting, tries to send what is left within `timeout` seconds (retrying at once instead of
        waiting out a backoff), stops the sender and returns how many events were left unsent.

        Events of a request still unanswered when the time is up count as unsent, though the server may yet
        store them: the sender stops after that answer."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._accepting = False
            self._hurry = True
            self._changed.notify_all()
        self.flush(timeout)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            return len(self._buffer)

    async def flush_async(self, timeout: Optional[float] = None) -> int:
        """`flush` for asyncio code: waits in a worker thread, so the event loop keeps running."""
        return await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    async def aclose(self, timeout: float = 5.0) -> int:
        """`close` for asyncio code: waits in a worker thread, so the event loop keeps running."""
        return await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)

    def stats(self) -> PublisherStats:
        with self._lock:
            return PublisherStats(len(self._buffer), self._sent, self._retried, self._dropped, self._rejected)

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "Publisher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ── Drops ────────────────────────────────────────────────────────────────────────────────────────────

    def _drop(self, event: Any, reason: DropReason, message: str) -> Optional[str]:
        """Counts, logs and reports an event that will never be stored; returns publish()'s answer for it."""
        with self._lock:
            if reason in ("invalid", "rejected_by_server"):
                self._rejected += 1
            else:
                self._dropped += 1
        if reason in ("invalid", "rejected_by_server"):
            log.warning("publisher: event dropped (%s): %s", reason, message)
        if self._on_drop is not None:
            try:
                self._on_drop(event, reason, message)
            except Exception:  # noqa: BLE001 - a failing callback must not stop publishing
                log.exception("publisher: on_drop raised")
        return None

    # ── The sender thread ────────────────────────────────────────────────────────────────────────────────

    def _next_batch(self, singles: bool) -> list[_Item]:
        """The oldest events, up to batch_size and max_batch_bytes (one larger event goes alone)."""
        batch: list[_Item] = []
        size = 2
        with self._lock:
            for item in self._buffer:
                if len(batch) == (1 if singles else self._batch_size):
                    break
                if batch and size + len(item.body) + 1 > self._max_batch_bytes:
                    break
                batch.append(item)
                size += len(item.body) + 1
        return batch

    def _acknowledge(self, count: int) -> None:
        with self._changed:
            for _ in range(count):
                self._buffer.popleft()
            self._sent += count
            self._changed.notify_all()

    def _reject(self, batch: list[_Item], bad: dict[int, str]) -> None:
        """Removes the events the server named as invalid; the rest stay queued, in order, to be sent again."""
        with self._changed:
            kept = [item for i, item in enumerate(batch) if i not in bad]
            for _ in batch:
                self._buffer.popleft()
            self._buffer.extendleft(reversed(kept))
            self._changed.notify_all()
        for index, message in sorted(bad.items()):
            self._drop(batch[index].event, "rejected_by_server", message)

    def _post(self, batch: list[_Item]) -> tuple[int, Any]:
        """Sends one batch; returns the HTTP status and the JSON answer. Network failures raise OSError."""
        body = b"[" + b",".join(item.body for item in batch) + b"]"
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers=headers(self._token, {"content-type": "application/json"})
        )
        try:
            with open_url(request, self._request_timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            message, answer = read_error(error)
            return error.code, answer if isinstance(answer, dict) else {"error": message}

    def _wait_before_retry(self, attempt: int) -> bool:
        """Waits out the backoff; True when close() cut it short, so the next retry starts a fresh backoff."""
        delay = backoff(attempt, *self._retry)
        with self._changed:
            self._changed.wait_for(lambda: self._hurry or self._stopping, delay)
            hurried, self._hurry = self._hurry, False
            return hurried

    def _run(self) -> None:
        try:
            self._send_until_stopped()
        except Exception:  # noqa: BLE001 - reported, and flush/close still answer with what is left
            log.exception("publisher: the sender stopped unexpectedly")

    def _send_until_stopped(self) -> None:
        attempt = 0
        # After a 400 or 413 without a per-event answer, events go one at a time to find the bad one.
        singles = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._buffer or self._stopping)
                if self._stopping:
                    return
            batch = self._next_batch(singles > 0)
            try:
                status, answer = self._post(batch)
            except Exception as error:  # noqa: BLE001 - any failure to get an answer is retried
                status, answer = 0, {"error": f"{type(error).__name__}: {error}"}
            if status == 200:
                self._acknowledge(len(batch))
                attempt = 0
                singles = max(0, singles - 1)
                continue
            with self._lock:
                if self._stopping:
                    return
            message = str(answer.get("error")) if isinstance(answer, dict) else f"HTTP {status}"
            if status in (400, 413):
                issues = answer.get("issues") if isinstance(answer, dict) else None
                bad = _issues_by_index(issues, len(batch)) if isinstance(issues, list) else {}
                if bad:
                    self._reject(batch, bad)
                elif len(batch) > 1:
                    singles = len(batch)
                else:
                    self._reject(batch, {0: message})
                    singles = max(0, singles - 1)
                continue
            # Down, unreachable, overloaded (429), refused by auth (401/403: a token file may be fixed and the
            # server restarted), or failing (5xx): the events stay queued and go again, under the same keys.
            attempt += 1
            with self._lock:
                self._retried += len(batch)
            log.info("publisher: send failed (%s); retry %d", message, attempt)
            if self._on_retry is not None:
                try:
                    self._on_retry(message, attempt)
                except Exception:  # noqa: BLE001 - a failing callback must not stop the sender
                    log.exception("publisher: on_retry raised")
            if self._wait_before_retry(attempt):
                attempt = 0


def _issues_by_index(issues: list[Any], size: int) -> dict[int, str]:
    """The server's per-event problems (`index` in a JSON array body), joined into one message per event."""
    bad: dict[int, list[str]] = {}
    for issue in issues:
        if isinstance(issue, dict) and isinstance(issue.get("index"), int) and 0 <= issue["index"] < size:
            bad.setdefault(issue["index"], []).append(f"{issue.get('path') or '(event)'}: {issue.get('message')}")
    return {index: "; ".join(messages) for index, messages in bad.items()}
