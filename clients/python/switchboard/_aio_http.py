"""HTTP/1.1 over asyncio streams, as much of it as the hub's answers need: one request per connection
(`Connection: close`), a body framed by `Content-Length`, chunked, or the end of the connection, read whole or
line by line. Standard library only; no proxies (a buffering proxy would hold events back), as the blocking
client.
"""

import asyncio
import ssl
import urllib.parse
from collections.abc import Awaitable
from typing import Optional


class Response:
    """The status and headers of an answer, and its body as it arrives."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        reason: str,
        headers: dict[str, str],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.status = status
        self.reason = reason
        self.headers = headers
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._chunked = chunked
        self._left: Optional[int] = None if chunked or length is None else int(length)
        self._buffer = b""
        self._ended = False
        #: Seconds a read may wait for the next bytes; None: no limit.
        self.read_timeout: Optional[float] = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def _more(self) -> bool:
        """Reads the next bytes of the body into the buffer; False at its end."""
        if self._ended:
            return False
        if self._chunked:
            size_line = await self._wait(self._reader.readline())
            if not size_line:
                self._ended = True
                return False
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                raise ConnectionError(f"a chunk of the answer has no size: {size_line[:100]!r}") from None
            if size == 0:
                self._ended = True
                return False
            data = await self._wait(self._reader.readexactly(size + 2))
            self._buffer += data[:-2]
            return True
        if self._left == 0:
            self._ended = True
            return False
        want = 65536 if self._left is None else min(65536, self._left)
        data = await self._wait(self._reader.read(want))
        if not data:
            self._ended = True
            return False
        if self._left is not None:
            self._left -= len(data)
        self._buffer += data
        return True

    async def _wait(self, read: Awaitable[bytes]) -> bytes:
        return await asyncio.wait_for(read, self.read_timeout)

    async def readline(self) -> bytes:
        """The next line with its newline, or what is left at the end of the body (b"" once it is all read)."""
        while b"\n" not in self._buffer:
            if not await self._more():
                line, self._buffer = self._buffer, b""
                return line
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    async def read(self) -> bytes:
        """The rest of the body."""
        while await self._more():
            pass
        body, self._buffer = self._buffer, b""
        return body

    def close(self) -> None:
        """Closes the connection; a read waiting in another task ends."""
        self._writer.close()


async def request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: Optional[bytes] = None,
    timeout: Optional[float] = None,
) -> Response:
    """Sends one request and reads the answer's status line and headers within `timeout` seconds."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port, ssl=context), timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        lines = [f"{method} {target} HTTP/1.1", f"host: {host}", "connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        await asyncio.wait_for(writer.drain(), timeout)
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        version, _, rest = status_line.decode("latin-1").strip().partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ConnectionError(f"{url} answered something that is not HTTP: {status_line[:100]!r}")
        answer_headers: dict[str, str] = {}
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        return Response(reader, writer, int(code), reason, answer_headers)
    except BaseException:
        writer.close()
        raise
