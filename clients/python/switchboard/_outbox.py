"""What the threaded and the asyncio Publisher share: the bounded buffer, idempotency keys, batches, counts, and
what the server's answer to a batch means. Neither I/O nor locking here: each Publisher holds its own lock.
"""

import itertools
import json
import logging
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional, Union

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


class Item:
    __slots__ = ("event", "body")

    def __init__(self, event: Mapping[str, Any], body: bytes) -> None:
        self.event = event
        self.body = body


@dataclass(frozen=True)
class Drop:
    """An event that will never be stored, and why."""

    event: Any
    reason: DropReason
    message: str


@dataclass(frozen=True)
class Stored:
    """The whole batch was stored (or found stored under its keys)."""


@dataclass(frozen=True)
class Rejected:
    """The server named these events of the batch as invalid (index → message); the rest go again."""

    bad: dict[int, str]


@dataclass(frozen=True)
class Bisect:
    """A 400, 403 or 413 for the batch without a per-event answer: send one at a time to find the bad one."""


@dataclass(frozen=True)
class Failed:
    """Down, unreachable, overloaded, refused by auth or failing: send the batch again after a backoff.

    `retry_after`: the seconds the server asked to wait (a 429's `Retry-After`); the backoff waits at least that.
    """

    message: str
    retry_after: Optional[float] = None


Answer = Union[Stored, Rejected, Bisect, Failed]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_date(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class Outbox:
    """The buffer of accepted events, oldest first, and the counts `stats()` reports."""

    def __init__(self, buffer_size: int, batch_size: int, max_batch_bytes: int) -> None:
        if buffer_size < 1 or batch_size < 1:
            raise ValueError("buffer_size and batch_size must be at least 1")
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.buffer: deque[Item] = deque()
        # 96 random bits as 16 characters: every key goes into the store's unique index, where a shorter one costs less.
        self._key_prefix = f"py-{secrets.token_urlsafe(12)}"
        self._next_key = itertools.count()
        self.sent = 0
        self.retried = 0
        self.dropped = 0
        self.rejected = 0

    def prepare(self, event: Any) -> Union[Item, Drop]:
        """The event with its idempotency key, serialised now: a caller that changes its dict later cannot
        change what is sent. Needs no lock."""
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str) or "data" not in event:
            return Drop(event, "invalid", "an event is a mapping with a string `type` and a `data` object")
        queued = dict(event)
        queued["key"] = event.get("key") or f"{self._key_prefix}:{next(self._next_key)}"
        try:
            body = json.dumps(queued, default=_json_default, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as error:
            return Drop(event, "invalid", f"not JSON: {error}")
        return Item(queued, body)

    def admit(self, item: Item, accepting: bool) -> Optional[Drop]:
        """Appends a prepared event, or says why it is dropped (under the Publisher's lock)."""
        if not accepting:
            return Drop(item.event, "closed", "the publisher is closed")
        if len(self.buffer) >= self.buffer_size:
            message = f"the buffer holds {self.buffer_size} events (buffer_size); this one was dropped"
            return Drop(item.event, "buffer_full", message)
        self.buffer.append(item)
        return None

    def count(self, drop: Drop) -> None:
        if drop.reason in ("invalid", "rejected_by_server"):
            self.rejected += 1
        else:
            self.dropped += 1

    def next_batch(self, singles: bool) -> list[Item]:
        """The oldest events, up to batch_size and max_batch_bytes (one larger event goes alone)."""
        batch: list[Item] = []
        size = 2
        for item in self.buffer:
            if len(batch) == (1 if singles else self.batch_size):
                break
            if batch and size + len(item.body) + 1 > self.max_batch_bytes:
                break
            batch.append(item)
            size += len(item.body) + 1
        return batch

    def acknowledge(self, count: int) -> None:
        for _ in range(count):
            self.buffer.popleft()
        self.sent += count

    def reject(self, batch: list[Item], bad: dict[int, str]) -> list[Drop]:
        """Removes the events the server named as invalid; the rest stay queued, in order, to be sent again."""
        kept = [item for i, item in enumerate(batch) if i not in bad]
        for _ in batch:
            self.buffer.popleft()
        self.buffer.extendleft(reversed(kept))
        return [Drop(batch[i].event, "rejected_by_server", message) for i, message in sorted(bad.items())]

    def stats(self) -> PublisherStats:
        return PublisherStats(len(self.buffer), self.sent, self.retried, self.dropped, self.rejected)


def body_of(batch: list[Item]) -> bytes:
    """A batch as one request's body: a JSON array."""
    return b"[" + b",".join(item.body for item in batch) + b"]"


def answer(status: int, body: Any, size: int, retry_after: Optional[float] = None) -> Answer:
    """What the server's answer (its status, JSON body and `Retry-After`; status 0 when none came) means for a
    batch."""
    if status == 200:
        return Stored()
    message = str(body.get("error")) if isinstance(body, dict) else f"HTTP {status}"
    if status in (400, 403, 413):
        # 403: not this token's to publish (a topic outside its publish scopes, or its role), as the TypeScript
        # Publisher treats FORBIDDEN: found one event at a time and dropped, so the rest are not held behind it.
        issues = body.get("issues") if isinstance(body, dict) else None
        bad = _issues_by_index(issues, size) if isinstance(issues, list) else {}
        if bad:
            return Rejected(bad)
        return Bisect() if size > 1 else Rejected({0: message})
    # Down, unreachable, overloaded (429), without a valid token (401: it may be fixed, or refreshed, and the
    # server restarted), or failing (5xx): the events stay queued and go again, under the same keys. Only a 429's
    # Retry-After is the publish rate's wait; a proxy's on another status is left to the backoff.
    return Failed(message, retry_after if status == 429 else None)


def report(drop: Drop, on_drop: Optional[OnDrop]) -> None:
    """Logs an event that will never be stored and tells `on_drop`; a failing callback is logged and ignored."""
    if drop.reason in ("invalid", "rejected_by_server"):
        log.warning("publisher: event dropped (%s): %s", drop.reason, drop.message)
    if on_drop is not None:
        try:
            on_drop(drop.event, drop.reason, drop.message)
        except Exception:  # noqa: BLE001 - a failing callback must not stop publishing
            log.exception("publisher: on_drop raised")


def retrying(message: str, attempt: int, on_retry: Optional[OnRetry]) -> None:
    log.info("publisher: send failed (%s); retry %d", message, attempt)
    if on_retry is not None:
        try:
            on_retry(message, attempt)
        except Exception:  # noqa: BLE001 - a failing callback must not stop the sender
            log.exception("publisher: on_retry raised")


def _issues_by_index(issues: list[Any], size: int) -> dict[int, str]:
    """The server's per-event problems (`index` in a JSON array body), joined into one message per event."""
    bad: dict[int, list[str]] = {}
    for issue in issues:
        if isinstance(issue, dict) and isinstance(issue.get("index"), int) and 0 <= issue["index"] < size:
            bad.setdefault(issue["index"], []).append(f"{issue.get('path') or '(event)'}: {issue.get('message')}")
    return {index: "; ".join(messages) for index, messages in bad.items()}
