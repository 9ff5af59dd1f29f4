"""What the Publisher and subscriptions share: URLs, headers, the answer of a failed request, and backoff."""

import json
import random
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional


def endpoint(url: str, path: str, query: Optional[dict[str, str]] = None) -> str:
    """`path` under the server's base URL (`http://127.0.0.1:8765`, with or without a trailing slash)."""
    base = url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    return base + path + ("?" + urllib.parse.urlencode(query) if query else "")


def headers(token: Optional[str], extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    result = {"user-agent": "switchboard-python"}
    if token is not None:
        result["authorization"] = f"Bearer {token}"
    result.update(extra or {})
    return result


def read_error(error: urllib.error.HTTPError) -> tuple[str, Any]:
    """The message and JSON body of an error answer; the server answers errors as JSON with an `error` field."""
    try:
        raw = error.read()
    except OSError:
        raw = b""
    return error_answer(error.code, str(error.reason), raw)


def error_answer(status: int, reason: str, raw: bytes) -> tuple[str, Any]:
    """The message and JSON body of an error answer with this status and body."""
    try:
        body: Any = json.loads(raw.decode("utf-8", "replace") or "null")
    except ValueError:
        body = None
    message = body.get("error") if isinstance(body, dict) else None
    if isinstance(message, dict):
        # tRPC's HTTP error shape: {"error": superjson({"message", "code", "data"})}.
        inner = message.get("json", message)
        message = inner.get("message") if isinstance(inner, dict) else None
    return (message if isinstance(message, str) else f"HTTP {status} {reason}"), body


#: The longest wait taken from a `Retry-After`: a larger one (a proxy's, say) is taken as this.
MAX_RETRY_AFTER = 3600.0


def retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds a `Retry-After` header asks to wait (the server sends whole seconds, at most `MAX_RETRY_AFTER` are
    taken); None without one, or for the HTTP-date form."""
    if value is None or re.fullmatch(r"[0-9]+", value.strip(), re.ASCII) is None:
        return None
    return min(float(value.strip()), MAX_RETRY_AFTER)


def backoff(attempt: int, initial: float, maximum: float) -> float:
    """Seconds before retry `attempt` (1, 2, ...): doubling from `initial` up to `maximum`, half of it jitter.

    The same curve as the TypeScript client's `backoff`, so that clients of one server restarting at the same
    moment spread their reconnects instead of arriving together.
    """
    if attempt <= 0:
        return 0.0
    ceiling = min(maximum, initial * 2.0 ** min(attempt - 1, 30))
    return ceiling / 2 + random.random() * ceiling / 2


def open_url(request: urllib.request.Request, timeout: Optional[float]) -> Any:
    """`urlopen` without proxies: the hub is a loopback or LAN address, and a proxy would buffer SSE streams."""
    return _OPENER.open(request, timeout=timeout)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
