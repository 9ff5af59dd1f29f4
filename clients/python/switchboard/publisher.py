"""The orchestrator's sink over `POST /ingest`, with a background thread.

`publish()` never raises and never waits on the network: it serialises the event, gives it an idempotency key
and appends it to a bounded buffer under a lock held for a few microseconds. One background thread drains the
buffer in order, in batches (a JSON array per request), retrying with exponential backoff and jitter while the
hub is away. An event leaves the buffer only once the server has answered for it, so a batch whose answer was
lost (sent, then the connection died) is sent again under the same keys and the server returns the stored
events instead of storing them twice. The buffer and the meaning of each answer are in `_outbox.py`, shared
with the asyncio Publisher (`switchboard.aio`).
"""

import asyncio
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Optional

from ._http import backoff, endpoint, headers, open_url, read_error, retry_after
from ._outbox import (
    Bisect,
    DropReason,
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

__all__ = ["DropReason", "Publisher", "PublisherStats"]

log = logging.getLogger("switchboard")


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
        retry_initial, retry_max: backoff between failed requests, in seconds, doubling, with jitter; after a
            429, at least its Retry-After (at most an hour).
        request_timeout: a request not answered within this is abandoned and retried under the same keys.
        on_drop(event, reason, message): called for every event that will never be stored.
        on_retry(message, attempt): called when a request fails and will be retried.
        """
        self._outbox = Outbox(buffer_size, batch_size, max_batch_bytes)
        self._url = endpoint(url, "/ingest")
        self._token = token
        self._retry = (retry_initial, retry_max)
        self._request_timeout = request_timeout
        self._on_drop = on_drop
        self._on_retry = on_retry
        self._lock = threading.Lock()
        # Signalled when the buffer gains an event, when it empties, and when close() wants the sender to hurry.
        self._changed = threading.Condition(self._lock)
        self._accepting = True
        self._stopping = False
        self._hurry = False
        self._thread = threading.Thread(target=self._run, name="switchboard-publisher", daemon=True)
        self._thread.start()

    # ── The orchestrator's side ──────────────────────────────────────────────────────────────────────────

    def publish(self, event: Mapping[str, Any]) -> Optional[str]:
        """Queues `event` (the `publish` input: `type`, `data`, optional `key`, `source`, `correlationId`,
        `timestamp` as a datetime or ISO-8601 string). Returns its idempotency key, or None when it was dropped
        (then `on_drop` says why). Never raises, never blocks on the network."""
        try:
            prepared = self._outbox.prepare(event)
            if isinstance(prepared, Item):
                with self._changed:
                    drop = self._outbox.admit(prepared, self._accepting)
                    if drop is None:
                        self._changed.notify_all()
                        return str(prepared.event["key"])
                    self._outbox.count(drop)
            else:
                drop = prepared
                with self._lock:
                    self._outbox.count(drop)
            report(drop, self._on_drop)
            return None
        except Exception:  # noqa: BLE001 - the contract: nothing raises into the orchestrator
            log.exception("publisher: publish failed unexpectedly; the event was not queued")
            return None

    def flush(self, timeout: Optional[float] = None) -> int:
        """Waits until every accepted event is acknowledged, or `timeout` seconds; returns how many are left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._outbox.buffer and not self._stopping:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
            return len(self._outbox.buffer)

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
            return len(self._outbox.buffer)

    async def flush_async(self, timeout: Optional[float] = None) -> int:
        """`flush` for asyncio code: waits in a worker thread, so the event loop keeps running."""
        return await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    async def aclose(self, timeout: float = 5.0) -> int:
        """`close` for asyncio code: waits in a worker thread, so the event loop keeps running."""
        return await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)

    def stats(self) -> PublisherStats:
        with self._lock:
            return self._outbox.stats()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "Publisher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ── The sender thread ────────────────────────────────────────────────────────────────────────────────

    def _post(self, batch: list[Item]) -> tuple[int, Any, Optional[float]]:
        """Sends one batch; returns the HTTP status, the JSON answer and the seconds `Retry-After` asks to wait.
        Network failures raise OSError."""
        request = urllib.request.Request(
            self._url,
            data=body_of(batch),
            method="POST",
            headers=headers(self._token, {"content-type": "application/json"}),
        )
        try:
            with open_url(request, self._request_timeout) as response:
                return response.status, json.loads(response.read() or b"null"), None
        except urllib.error.HTTPError as error:
            message, body = read_error(error)
            wait = retry_after(error.headers.get("retry-after"))
            return error.code, body if isinstance(body, dict) else {"error": message}, wait

    def _wait_before_retry(self, attempt: int, at_least: Optional[float]) -> bool:
        """Waits out the backoff, and at least what the server asked; True when close() cut it short, so the next
        retry starts a fresh backoff."""
        delay = max(backoff(attempt, *self._retry), at_least or 0.0)
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
        # After a 400, 403 or 413 without a per-event answer, events go one at a time to find the bad one.
        singles = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._outbox.buffer or self._stopping)
                if self._stopping:
                    return
                batch = self._outbox.next_batch(singles > 0)
            try:
                status, body, wait = self._post(batch)
            except Exception as error:  # noqa: BLE001 - any failure to get an answer is retried
                status, body, wait = 0, {"error": f"{type(error).__name__}: {error}"}, None
            result = answer(status, body, len(batch), wait)
            with self._changed:
                if isinstance(result, Stored):
                    self._outbox.acknowledge(len(batch))
                    self._changed.notify_all()
                elif self._stopping:
                    return
                elif isinstance(result, Rejected):
                    drops = self._outbox.reject(batch, result.bad)
                    for drop in drops:
                        self._outbox.count(drop)
                    self._changed.notify_all()
                elif isinstance(result, Failed):
                    self._outbox.retried += len(batch)
            if isinstance(result, (Stored, Rejected)):
                attempt = 0 if isinstance(result, Stored) else attempt
                singles = max(0, singles - 1)
                if isinstance(result, Rejected):
                    for drop in drops:
                        report(drop, self._on_drop)
            elif isinstance(result, Bisect):
                singles = len(batch)
            else:
                attempt += 1
                retrying(result.message, attempt, self._on_retry)
                if self._wait_before_retry(attempt, result.retry_after):
                    attempt = 0
