"""superjson's wire format, the part this API uses: `{"json": value, "meta": {"values": annotations}}`.

The server's transformer writes JSON plus annotated `Date`s (shared/transformer.ts); superjson itself may also
annotate `undefined`, `bigint` and non-finite numbers. Those are decoded here; any other annotation (Map, Set,
RegExp, class instances: nothing in this API sends them) leaves the JSON value as it came.
"""

from datetime import datetime, timezone
from typing import Any

_MISSING = object()


def encode(value: Any) -> dict[str, Any]:
    """Wraps a plain JSON value (a subscription or query input) as superjson; it needs no annotations."""
    return {"json": value}


def parse_date(text: str) -> datetime:
    """An ISO-8601 string as JavaScript's `Date.toISOString()` writes it, as an aware UTC datetime."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # fromisoformat before 3.11 takes exactly 0, 3 or 6 fractional digits; toISOString always writes 3.
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def format_date(value: datetime) -> str:
    """A datetime as ISO-8601 with an offset, as ingest requires; a naive one is taken as local time."""
    return value.astimezone().isoformat() if value.tzinfo is None else value.isoformat()


def _split_path(path: str) -> list[str]:
    """A superjson path: segments joined by `.`, with `.` and `\\` escaped by a backslash."""
    segments: list[str] = []
    current: list[str] = []
    escaped = False
    for char in path:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return segments


def _convert(value: Any, annotation: Any) -> Any:
    if annotation == "Date" and isinstance(value, str):
        return parse_date(value)
    if annotation == "undefined":
        return _MISSING
    if annotation == "bigint" and isinstance(value, str):
        return int(value)
    if annotation == "number" and isinstance(value, str):
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf"), "-0": -0.0}.get(value, value)
    return value


def _apply(root: Any, segments: list[str], annotation: Any) -> Any:
    """Replaces the value at `segments` under `root` by its decoded form; returns the (possibly new) root."""
    if not segments:
        converted = _convert(root, annotation)
        return None if converted is _MISSING else converted
    parent = root
    for segment in segments[:-1]:
        if isinstance(parent, list):
            parent = parent[int(segment)]
        elif isinstance(parent, dict):
            parent = parent.get(segment)
        else:
            return root
    last = segments[-1]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        converted = _convert(parent[int(last)], annotation)
        parent[int(last)] = None if converted is _MISSING else converted
    elif isinstance(parent, dict) and last in parent:
        converted = _convert(parent[last], annotation)
        if converted is _MISSING:
            del parent[last]
        else:
            parent[last] = converted
    return root


def _walk_tree(values: Any, prefix: list[str], out: list[tuple[list[str], Any]]) -> None:
    """Flattens superjson's annotation forms: `{path: [type]}` for nested values, `[type]` for the root."""
    if isinstance(values, list):
        if values and isinstance(values[0], str):
            out.append((prefix, values[0]))
        return
    if isinstance(values, dict):
        for path, annotation in values.items():
            segments = prefix + _split_path(path)
            if isinstance(annotation, list) and annotation and isinstance(annotation[0], str):
                out.append((segments, annotation[0]))


def decode(payload: Any) -> Any:
    """The value a superjson payload holds, decoding in place (each payload was just parsed from one frame)."""
    if not isinstance(payload, dict) or "json" not in payload:
        return payload
    value = payload["json"]
    meta = payload.get("meta")
    if isinstance(meta, dict) and "values" in meta:
        annotations: list[tuple[list[str], Any]] = []
        _walk_tree(meta["values"], [], annotations)
        for segments, annotation in annotations:
            value = _apply(value, segments, annotation)
    return value
