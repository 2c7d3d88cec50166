"""Response caps: the body is read raw and decoded here, a bounded piece of output at a time,
so no compression ratio can outgrow ``max_bytes`` (httpx would decode a chunk whole).
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
import httpx

from watcher.errors import FetchError, ResponseTooLargeError

# brotli < 1.2 cannot bound the output of one call (a 1.6 KB input can yield 1 GiB), so
# with it "br" is neither offered nor accepted.
_BROTLI_BOUNDED = hasattr(brotli.Decompressor, "can_accept_more_data")

# Only what _layer() can decode with a bound. httpx would also offer zstd when the
# zstandard package happens to be installed; we must not advertise what we cannot cap.
ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI_BOUNDED else "gzip, deflate"

# Largest piece of decoded output produced at once. Bounds memory per layer of
# Content-Encoding whatever the compression ratio.
_CHUNK = 64 * 1024

# More layers than this is an attack, not a CDN.
_MAX_ENCODING_LAYERS = 3


class _Layer(Protocol):
    def feed(self, data: bytes) -> None: ...

    def read(self, limit: int) -> bytes:
        """Up to about ``limit`` decoded bytes; b"" when more input is needed."""
        ...


class _Buffered:
    """What a layer was fed and has not decoded yet."""

    def __init__(self) -> None:
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data


class _Identity(_Buffered):
    def read(self, limit: int) -> bytes:
        out, self._input = self._input[:limit], self._input[limit:]
        return out


class _Zlib(_Buffered):
    """gzip (several members allowed) or deflate (zlib-wrapped, or raw as IIS sends it)."""

    def __init__(self, gzip: bool) -> None:
        super().__init__()
        self._gzip = gzip
        self._decompressor: zlib._Decompress | None = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None)

    def read(self, limit: int) -> bytes:
        decompressor = self._decompressor
        if decompressor is None:  # deflate: the first two bytes tell zlib from raw
            if len(self._input) < 2:
                return b""
            cmf, flg = self._input[0], self._input[1]
            wrapped = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            decompressor = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            self._decompressor = decompressor
        if decompressor.eof:
            rest = decompressor.unused_data + self._input
            if not (self._gzip and rest.startswith(b"\x1f\x8b")):
                self._input = b""  # trailing junk after the stream: ignored, as browsers do
                return b""
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
            self._decompressor = decompressor
            self._input = rest
        # Always call, even with no new input: after a full ``limit`` of output zlib may
        # still hold part of a long match to copy out.
        out = decompressor.decompress(self._input, limit)
        self._input = decompressor.unconsumed_tail
        return out


class _Brotli(_Buffered):
    def __init__(self) -> None:
        super().__init__()
        self._decompressor = brotli.Decompressor()

    def read(self, limit: int) -> bytes:
        # brotli >= 1.2 bounds each call's output; until it says it can take more input,
        # it must be called with empty input to drain what it holds.
        if not self._decompressor.can_accept_more_data():
            return bytes(self._decompressor.process(b"", output_buffer_limit=limit))
        if not self._input:
            return b""
        data, self._input = self._input, b""
        return bytes(self._decompressor.process(data, output_buffer_limit=limit))


def _layer(encoding: str) -> _Layer:
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if encoding == "deflate":
        return _Zlib(gzip=False)
    if encoding == "br" and _BROTLI_BOUNDED:
        return _Brotli()
    raise FetchError(f"unsupported Content-Encoding {encoding!r}")


class BoundedDecoder:
    """Undoes Content-Encoding (stacked too) producing at most ``limit`` bytes per read.

    Output is pulled from the last layer; a layer asks the one before it for more only when
    it has nothing left, so no layer ever holds more than one chunk of its input.
    """

    def __init__(self, content_encoding: str | None) -> None:
        encodings = [e.strip().lower() for e in (content_encoding or "").split(",")]
        encodings = [e for e in encodings if e and e != "identity"]
        if len(encodings) > _MAX_ENCODING_LAYERS:
            raise FetchError(f"too many Content-Encoding layers ({len(encodings)})")
        # The server applied them in the order listed; undo them in reverse.
        self._layers: list[_Layer] = [_Identity()]
        self._layers += [_layer(e) for e in reversed(encodings)]

    def feed(self, raw: bytes) -> None:
        self._layers[0].feed(raw)

    def read(self, limit: int = _CHUNK) -> bytes:
        return self._pull(len(self._layers) - 1, limit)

    def _pull(self, index: int, limit: int) -> bytes:
        layer = self._layers[index]
        while True:
            out = layer.read(limit)
            if out or index == 0:
                return out
            upstream = self._pull(index - 1, limit)
            if not upstream:
                return b""
            layer.feed(upstream)


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, refused as soon as it passes ``max_bytes``."""
    too_large = ResponseTooLargeError(f"response larger than {max_bytes} bytes",
                                      status=response.status_code)
    encoding = response.headers.get("content-encoding")
    declared = response.headers.get("content-length", "")
    if not encoding and declared.isdigit() and int(declared) > max_bytes:
        raise too_large  # says so up front: no need to download it
    decoder = BoundedDecoder(encoding)
    parts: list[bytes] = []
    raw_total = decoded_total = 0
    try:
        async for raw in response.aiter_raw():
            raw_total += len(raw)
            if raw_total > max_bytes:  # compressed never beats decoded by much
                raise too_large
            decoder.feed(raw)
            while chunk := decoder.read():
                decoded_total += len(chunk)
                if decoded_total > max_bytes:
                    raise too_large
                parts.append(chunk)
    except (zlib.error, brotli.error) as exc:
        raise FetchError(f"corrupt {encoding} body: {exc}",
                         status=response.status_code) from None
    return b"".join(parts)
