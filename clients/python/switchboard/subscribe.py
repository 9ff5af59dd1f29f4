"""Subscriptions over Server-Sent Events and `history`, blocking: an iterator to use from a thread.

The stream's format and meaning are in `_stream.py`, shared with the asyncio forms (`switchboard.aio`).
"""

import http.client
import logging
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from ._http import backoff, open_url
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
from .sse import parse

__all__ = ["Subscription", "SubscriptionError", "history", "subscribe"]

log = logging.getLogger("switchboard")


class Subscription:
    """An iterator over a subscription's items that reconnects and resumes by itself.

    `last_event_id` is the cursor: the id of the last item yielded (or the one given at the start). `close()`
    may be called from any thread; the iteration then ends.
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
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._items = self._run()

    @property
    def last_event_id(self) -> Optional[str]:
        """The cursor: the `id:` the server sent with the last item yielded (the event id and the log's epoch)."""
        return self._stream.last_event_id

    def __iter__(self) -> "Subscription":
        return self

    def __next__(self) -> StreamItem:
        return next(self._items)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ends the iteration; a read blocked in another thread returns at once."""
        self._closed.set()
        with self._lock:
            response = self._response
        if response is not None:
            _shutdown(response)

    def _run(self) -> Iterator[StreamItem]:
        attempt = 0
        while not self._closed.is_set():
            try:
                for item in self._connect_and_read():
                    attempt = 0
                    yield item
                # The stream ended normally (`return`, or the server closed it): resume from the cursor.
                reason = "the stream ended"
            except Retry as error:
                reason = str(error)
            except urllib.error.URLError as error:
                reason = str(error.reason)
            except (OSError, http.client.HTTPException, ValueError) as error:
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
            self._closed.wait(delay)

    def _connect_and_read(self) -> Iterator[StreamItem]:
        url, headers = self._stream.request()
        try:
            response = open_url(urllib.request.Request(url, headers=headers), self._connect_timeout)
        except urllib.error.HTTPError as error:
            raise self._stream.refused(error.code, str(error.reason), _body(error)) from None
        with self._lock:
            self._response = response
        try:
            if self._closed.is_set():
                return
            self._stream.check_content_type(response.headers.get_content_type())
            _set_read_timeout(response, self._stream.idle_timeout)
            for sse in parse(response.readline, self.last_event_id):
                step = self._stream.step(sse)
                if isinstance(step, End):
                    return
                if isinstance(step, IdleTimeout):
                    _set_read_timeout(response, step.seconds)
                elif step is not None:
                    yield step
        except (socket.timeout, TimeoutError):
            raise Retry("no data within the inactivity timeout") from None
        finally:
            with self._lock:
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
    """Iterate a subscription over SSE: `for event in subscribe(url, "events", {"topics": ["agent:*"]}): ...`.

    procedure: `events`, `agentStatus`, `workflowEvents`, `tddPhase` (or a team's own).
    input: the procedure's input, filters included (e.g. `{"workflowId": "wf-42", "types": [...]}`).
    last_event_id: resume after this id (`"0"` replays everything kept); otherwise the procedure's default.
    token: a viewer token, sent as `Authorization: Bearer`.
    options: retry_initial, retry_max (seconds of backoff between reconnects), max_retries (reconnects in a
        row without an item before raising ConnectionError; None: forever), idle_timeout (seconds without data
        before reconnecting; default: what the server's `connected` event says, else none), connect_timeout,
        on_reconnect(reason, attempt, last_event_id), on_unknown(event) for events of a type this client has no
        class for (else each such type is logged once and its events skipped).

    Yields `StreamItem`s, narrowed by `type`. Raises SubscriptionError when the server refuses the subscription
    for good (bad input or token), ConnectionError when `max_retries` reconnects in a row failed.
    """
    return Subscription(url, procedure, input, last_event_id, token, **options)


def history(
    url: str,
    input: Optional[Mapping[str, Any]] = None,
    token: Optional[str] = None,
    timeout: float = 10.0,
    on_unknown: Optional[OnUnknown] = None,
) -> Iterator[StreamItem]:
    """Every stored event after `input["after"]` (default "0"), oldest first, page by page via `history`.

    input: the `history` query's filters (`topics`, `types`, `after`, `before`, `limit` per page).
    Raises what a subscription does: SubscriptionError when the server refuses the query for good, and
    ConnectionError when the server cannot be reached or answers with a failure asking again may fix.
    """
    pages = History(url, input, token)
    unknown = UnknownTypes(on_unknown)
    while not pages.done:
        address, headers = pages.request()
        try:
            with open_url(urllib.request.Request(address, headers=headers), timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise pages.refused(error.code, str(error.reason), _body(error)) from None
        except (OSError, http.client.HTTPException) as error:
            raise unreachable(url, error) from None
        yield from pages.page(raw, unknown)


def _body(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except OSError:
        return b""


def _socket_of(response: Any) -> Optional[socket.socket]:
    fp = getattr(response, "fp", None)
    raw = getattr(fp, "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _set_read_timeout(response: Any, seconds: Optional[float]) -> None:
    sock = _socket_of(response)
    if sock is not None:
        sock.settimeout(seconds)


def _shutdown(response: Any) -> None:
    """Unblocks a read in another thread: closing a file object does not, shutting the socket down does."""
    sock = _socket_of(response)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer or by the reader: nothing left to unblock
