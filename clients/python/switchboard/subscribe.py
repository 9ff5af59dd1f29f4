"""Subscriptions over Server-Sent Events, as tRPC v11's `httpSubscriptionLink` receives them.

`GET /trpc/<procedure>?input=<superjson>` answers with an event stream: a `connected` event (its data may carry
`reconnectAfterInactivityMs`), then one unnamed event per item, `data` the superjson envelope and `id` the event
id. `serialized-error` carries a tRPC error and ends the stream; `return` ends it cleanly; `ping` and any event
this client does not know are ignored. A reconnect sends the last id as `Last-Event-ID`, which the server merges
into the input as `lastEventId`: it replays what was missed from the store and continues live, with no gap and
no duplicate.
"""

import http.client
import json
import logging
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Optional

from . import superjson
from ._http import backoff, endpoint, headers, open_url, read_error
from .events import StreamItem, to_event
from .sse import parse

log = logging.getLogger("switchboard")

#: tRPC error codes that a retry cannot fix: the stream ends with SubscriptionError instead of reconnecting.
FATAL_CODES = frozenset(
    {"BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "PARSE_ERROR", "METHOD_NOT_SUPPORTED"}
)
_FATAL_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_SUPPORTED",
}


class SubscriptionError(Exception):
    """The server refused the subscription in a way a retry cannot fix (bad input, bad token, no such procedure).

    `code` is tRPC's error code (`BAD_REQUEST`, ...); `data` the error's data, e.g. `{"reason": "invalid_cursor",
    "issues": [...]}`.
    """

    def __init__(self, code: str, message: str, data: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data or {}


class _Retry(Exception):
    """The stream ended or failed in a way a reconnect can fix."""


OnReconnect = Callable[[str, int, Optional[str]], None]


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
    ) -> None:
        if not procedure or "/" in procedure or "?" in procedure:
            raise ValueError(f"procedure must be a name such as 'events', got {procedure!r}")
        self._url = endpoint(url, f"/trpc/{procedure}")
        self._procedure = procedure
        params: dict[str, Any] = dict(input or {})
        # One cursor: the input's lastEventId is where the first connection starts; after that the header says.
        start = params.pop("lastEventId", None)
        self.last_event_id: Optional[str] = last_event_id if last_event_id is not None else start
        self._input = params
        self._token = token
        self._retry = (retry_initial, retry_max)
        self._max_retries = max_retries
        self._idle_timeout = idle_timeout
        self._connect_timeout = connect_timeout
        self._on_reconnect = on_reconnect
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._items = self._run()

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

    def _request(self) -> urllib.request.Request:
        query = {"input": json.dumps(superjson.encode(self._input), separators=(",", ":"))}
        extra = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.last_event_id:
            extra["last-event-id"] = self.last_event_id
        return urllib.request.Request(endpoint(self._url, "", query), headers=headers(self._token, extra))

    def _run(self) -> Iterator[StreamItem]:
        attempt = 0
        while not self._closed.is_set():
            try:
                for item in self._connect_and_read():
                    attempt = 0
                    yield item
                # The stream ended normally (`return`, or the server closed it): resume from the cursor.
                reason = "the stream ended"
            except _Retry as error:
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
                self._procedure,
                reason,
                attempt,
                delay,
                self.last_event_id,
            )
            if self._on_reconnect is not None:
                self._on_reconnect(reason, attempt, self.last_event_id)
            self._closed.wait(delay)

    def _connect_and_read(self) -> Iterator[StreamItem]:
        try:
            response = open_url(self._request(), self._connect_timeout)
        except urllib.error.HTTPError as error:
            message, body = read_error(error)
            code = _error_code(body) or _FATAL_STATUS.get(error.code)
            if code in FATAL_CODES:
                raise SubscriptionError(str(code), message, _error_data(body)) from None
            raise _Retry(message) from None
        with self._lock:
            self._response = response
        try:
            if self._closed.is_set():
                return
            kind = response.headers.get_content_type()
            if kind != "text/event-stream":
                # A query or mutation answers once, as JSON: reconnecting would only ask again.
                raise SubscriptionError(
                    "BAD_REQUEST", f"{self._procedure} answered {kind}, not an event stream: is it a subscription?"
                )
            _set_read_timeout(response, self._idle_timeout)
            for sse in parse(response.readline, self.last_event_id):
                if sse.event == "message":
                    item = to_event(superjson.decode(json.loads(sse.data)))
                    # The cursor moves as the item is handed over: a caller that saves it after handling the
                    # item resumes after it.
                    self.last_event_id = sse.last_event_id
                    yield item
                elif sse.event == "connected":
                    self._apply_server_options(response, sse.data)
                elif sse.event == "serialized-error":
                    self._raise_serialized_error(sse.data)
                elif sse.event == "return":
                    return
                elif sse.last_event_id is not None and sse.event == "restore-id":
                    self.last_event_id = sse.last_event_id
        except (socket.timeout, TimeoutError):
            raise _Retry("no data within the inactivity timeout") from None
        finally:
            with self._lock:
                self._response = None
            response.close()

    def _apply_server_options(self, response: Any, data: str) -> None:
        """tRPC's `connected` event may set the inactivity timeout after which a client reconnects."""
        if self._idle_timeout is not None:
            return
        try:
            options = json.loads(data or "{}")
        except ValueError:
            return
        inactivity = options.get("reconnectAfterInactivityMs") if isinstance(options, dict) else None
        if isinstance(inactivity, (int, float)) and inactivity > 0:
            _set_read_timeout(response, inactivity / 1000)

    @staticmethod
    def _raise_serialized_error(data: str) -> None:
        try:
            error = superjson.decode(json.loads(data))
        except ValueError:
            raise _Retry(f"an unreadable error from the server: {data[:200]}") from None
        message = error.get("message", "error") if isinstance(error, dict) else "error"
        code = _error_code(error)
        if code in FATAL_CODES:
            raise SubscriptionError(str(code), str(message), _error_data(error))
        raise _Retry(f"{code}: {message}")


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
        on_reconnect(reason, attempt, last_event_id).

    Raises SubscriptionError when the server refuses the subscription for good (bad input or token).
    """
    return Subscription(url, procedure, input, last_event_id, token, **options)


def history(
    url: str,
    input: Optional[Mapping[str, Any]] = None,
    token: Optional[str] = None,
    timeout: float = 10.0,
) -> Iterator[StreamItem]:
    """Every stored event after `input["after"]` (default "0"), oldest first, page by page via `history`.

    input: the `history` query's filters (`topics`, `types`, `after`, `before`, `limit` per page).
    """
    query: dict[str, Any] = {"after": "0", "limit": 1000}
    query.update(input or {})
    while True:
        params = {"input": json.dumps(superjson.encode(query), separators=(",", ":"))}
        request = urllib.request.Request(endpoint(url, "/trpc/history", params), headers=headers(token))
        try:
            with open_url(request, timeout) as response:
                page = superjson.decode(json.loads(response.read())["result"]["data"])
        except urllib.error.HTTPError as error:
            message, body = read_error(error)
            raise SubscriptionError(_error_code(body) or f"HTTP {error.code}", message, _error_data(body)) from None
        for envelope in page["events"]:
            yield to_event(envelope)
        if not page["hasMore"]:
            return
        query["after"] = page["nextCursor"]


def _error_shape(body: Any) -> Any:
    """tRPC's error shape from an HTTP error body (`{"error": superjson}`), a decoded `serialized-error`, or the
    plain JSON a stream refused before it starts answers with (`{"error": message, "code", "reason", "issues"}`)."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        data = {key: body[key] for key in ("code", "reason", "issues") if body.get(key) is not None}
        return {"message": body["error"], "data": data}
    if isinstance(body, dict) and "error" in body:
        body = superjson.decode(body["error"])
    return body if isinstance(body, dict) else {}


def _error_code(body: Any) -> Optional[str]:
    data = _error_shape(body).get("data")
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def _error_data(body: Any) -> dict[str, Any]:
    shape = _error_shape(body)
    data = shape.get("data")
    if isinstance(data, dict):
        return data
    return {"issues": shape["issues"]} if isinstance(shape.get("issues"), list) else {}


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
