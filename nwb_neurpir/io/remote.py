"""HTTP for DANDI and plain URLs: timeouts on every request, bounded retries with exponential backoff, exact checks
of Range answers, and a byte counter.

``HttpSession`` is a ``requests.Session`` handed both to the ``dandi`` client (API calls) and to ``remfile`` (Range
reads of NWB files). Transient failures -- 408/425/429/5xx, refused or reset connections, timeouts, bodies cut short
or longer/shorter than asked -- are retried with exponential backoff inside a time budget per request; anything else
is final. A final failure raises ``RemoteError`` (a ``NeurPIRError``) and marks the session broken, so every later
request fails at once instead of each waiting out its own budget. ``RemoteError`` also subclasses remfile's
"permanent" error so remfile does not wrap our retries in its own fixed 8-retry loop.

Redirects are followed (at most ``max_redirects``), including to another host: that is how the DANDI API hands out
its S3 blob URLs (``/api/assets/<id>/download/`` answers 302). Only http(s) targets are followed.

A session given an ``ApiKey`` sends ``Authorization: token <key>`` on every request to the key's origin (the DANDI
API's scheme, host and port) and on no other: not on a request to another origin, and not after a redirect leaves
the origin (stricter than ``requests``, which keeps it across a port change). A 401 or 403 raises
``RemoteAccessDenied``.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import requests
import urllib3

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.redaction import is_signed_url, redact_text, redact_url

__all__ = ["ApiKey", "HttpPolicy", "HttpSession", "RemoteAccessDenied", "RemoteError", "RemoteSize", "download_to",
           "origin_of", "probe_size"]

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_BLOCK = 256 * 1024
_DOWNLOAD_INSTEAD = "so the file cannot be streamed; download it instead (`neurpir fetch` or download=True)"
_RANGE_IGNORED = f"the server ignored the HTTP Range request (answered 200 with the whole file), {_DOWNLOAD_INSTEAD}"
_NO_TOTAL = f"the server did not report the file size in a Range answer, {_DOWNLOAD_INSTEAD}"


def _remfile_permanent_error() -> type[Exception]:
    """remfile re-raises this class at once instead of retrying (checked by a test, as it is private)."""
    remfile_module = importlib.import_module("remfile.RemFile")
    return getattr(remfile_module, "_PermanentHTTPError", Exception)


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retries for every HTTP request (seconds)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    """Longest silence allowed while waiting for headers or between body blocks."""
    attempt_deadline: float = 120.0
    """Longest one attempt may take for a small body (catches servers that trickle bytes)."""
    min_bytes_per_second: float = 50_000.0
    """Each attempt also gets ``expected bytes / min_bytes_per_second`` on top of ``attempt_deadline``."""
    attempts: int = 5
    backoff: float = 0.5
    """First wait before a retry; doubles after each failed attempt, capped by ``max_backoff``."""
    max_backoff: float = 8.0
    total_budget: float = 300.0
    """No retry is started once this much time has passed since a request's first attempt."""
    max_redirects: int = 5

    def deadline_for(self, nbytes: int) -> float:
        """Seconds allowed for one attempt that moves ``nbytes``."""
        return self.attempt_deadline + nbytes / self.min_bytes_per_second


class RemoteError(NeurPIRError, _remfile_permanent_error()):  # type: ignore[misc]
    """A remote request failed for good: after retries, or with a status retrying cannot fix."""


class RemoteAccessDenied(RemoteError):
    """The server answered 401 or 403: no, a wrong or an expired credential."""


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL (the port spelled out), the unit an API key is bound to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class ApiKey:
    """A DANDI API key and the one origin it may be sent to; ``repr`` never shows the key."""

    origin: str
    key: str = field(repr=False)

    def header_for(self, url: str) -> str | None:
        """The ``Authorization`` value for a request to ``url``: ``token <key>`` on the key's origin, else None."""
        return f"token {self.key}" if origin_of(url) == self.origin else None


def _status_error(response: requests.Response, url: str, doing: str = "") -> RemoteError:
    """The final error for an HTTP error status (``RemoteAccessDenied`` for 401/403); a 403 on a presigned URL says
    that its signature has probably expired."""
    kind = RemoteAccessDenied if response.status_code in (401, 403) else RemoteError
    message = f"HTTP {response.status_code} {response.reason}{doing}"
    if response.status_code == 403 and is_signed_url(url):
        message += ("; the signed URL has probably expired: get a new one, or give the file's DANDI asset ID "
                    "(with DANDI_API_KEY for embargoed data)")
    return kind(message, source=url)


class _Transient(Exception):
    """A failure worth retrying (bad status, short body, wrong Content-Range)."""


_RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
              requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError, _Transient)


class HttpSession(requests.Session):
    """A ``requests.Session`` with the policy's timeouts and retries, Range checks and a byte counter."""

    def __init__(self, policy: HttpPolicy | None = None, api_key: ApiKey | None = None) -> None:
        super().__init__()
        self.policy = policy or HttpPolicy()
        self.api_key = api_key
        """Sent as ``Authorization`` to its origin only."""
        self.max_redirects = self.policy.max_redirects
        self.bytes_received = 0
        """Body bytes received (all attempts, all requests)."""
        self.requests_sent = 0
        self.failure: RemoteError | None = None
        """The final failure, once one happened; later requests raise it again at once."""
        self.expected_sizes: dict[str, int] = {}
        """URL -> total size; a Range answer reporting another total is refused (the file changed)."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send with timeouts and retries; read the body (unless ``stream=True``) and check Range answers."""
        if self.failure is not None:
            raise self.failure
        stream = bool(kwargs.pop("stream", False))
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": self._authorization(url)}
        kwargs.setdefault("timeout", (self.policy.connect_timeout, self.policy.read_timeout))
        wanted = _requested_range(kwargs.get("headers"))
        started = time.monotonic()
        for attempt in range(1, self.policy.attempts + 1):
            try:
                self.requests_sent += 1
                response = super().request(method, url, *args, stream=True, **kwargs)
                self._check_status(response, url, wanted, stream)
                if not stream:
                    nbytes = wanted[1] - wanted[0] + 1 if wanted else 0
                    self._read_body(response, time.monotonic() + self.policy.deadline_for(nbytes))
                    _check_range_body(response, wanted, self.expected_sizes.get(url))
                return response
            except RemoteError as exc:
                self.failure = exc
                raise
            except _RETRYABLE as exc:
                wait = _backoff(self.policy, attempt, started)
                if wait is None:
                    self.failure = RemoteError(f"{method} failed after {attempt} attempt(s) in "
                                               f"{time.monotonic() - started:.1f} s: {_describe(exc)}", source=url)
                    raise self.failure from None
                log.info("retrying %s %s in %.1f s (attempt %d failed: %s)", method, redact_url(url), wait, attempt,
                         _describe(exc))
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect, keep ``Authorization`` only while the target is still the API key's origin."""
        super().rebuild_auth(prepared_request, response)
        prepared_request.headers.pop("Authorization", None)
        if value := self._authorization(prepared_request.url or ""):
            prepared_request.headers["Authorization"] = value

    def _authorization(self, url: str) -> str | None:
        """``token <key>`` for the key's origin; None elsewhere (which also removes any session-wide header)."""
        return self.api_key.header_for(url) if self.api_key is not None else None

    def count(self, nbytes: int) -> None:
        """Add bytes read from a ``stream=True`` response to the counter."""
        self.bytes_received += nbytes

    def _check_status(self, response: requests.Response, url: str, wanted: tuple[int, int] | None,
                      stream: bool) -> None:
        """Raise for a transient or error status, and for a Range request answered with the whole file (unless
        ``stream``: the caller of a streamed response reads it, and sees a 200 for itself)."""
        status = response.status_code
        if status in TRANSIENT_STATUS:
            response.close()
            raise _Transient(f"HTTP {status} {response.reason}")
        if wanted is not None and not stream and status == 200 and not _covers_whole_body(response, wanted):
            response.close()
            raise RemoteError(_RANGE_IGNORED, url)
        if wanted is not None and status >= 400:
            response.close()
            raise _status_error(response, url, f" while reading bytes {wanted[0]}-{wanted[1]}")

    def _read_body(self, response: requests.Response, deadline: float) -> None:
        blocks = []
        with response:
            for block in _body_blocks(response, deadline):
                blocks.append(block)
                self.bytes_received += len(block)
        response._content = b"".join(blocks)  # what requests itself does once a streamed body is read
        response._content_consumed = True


def _body_blocks(response: requests.Response, deadline: float) -> Iterator[bytes]:
    """The body as it arrives -- whatever each socket read returns, so a trickling server meets the deadline."""
    read = getattr(response.raw, "read1", None) or response.raw.read  # read1 (urllib3 >= 2) returns what arrived
    while block := read(_BLOCK, decode_content=True):
        yield block
        if time.monotonic() > deadline:
            raise _Transient("the server is too slow (the attempt's deadline passed while reading the body)")


def _backoff(policy: HttpPolicy, attempt: int, started: float) -> float | None:
    """Seconds to wait before the next attempt; None once the attempts or the time budget are spent."""
    wait = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
    if attempt >= policy.attempts or time.monotonic() - started + wait > policy.total_budget:
        return None
    return wait


def _requested_range(headers: dict[str, str] | None) -> tuple[int, int] | None:
    value = next((v for k, v in (headers or {}).items() if k.lower() == "range"), None)
    match = re.fullmatch(r"bytes=(\d+)-(\d+)", value or "")
    return (int(match[1]), int(match[2])) if match else None


def _covers_whole_body(response: requests.Response, wanted: tuple[int, int]) -> bool:
    length = response.headers.get("Content-Length")
    return wanted[0] == 0 and length is not None and int(length) <= wanted[1] + 1


def _check_range_body(response: requests.Response, wanted: tuple[int, int] | None, size: int | None) -> None:
    if wanted is None or response.status_code != 206:
        return
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
    if match is None:
        raise _Transient(f"206 answer without a valid Content-Range ({response.headers.get('Content-Range')!r})")
    start, end, total = int(match[1]), int(match[2]), match[3]
    last = wanted[1] if total == "*" else min(wanted[1], int(total) - 1)
    if (start, end) != (wanted[0], last):
        raise _Transient(f"asked for bytes {wanted[0]}-{wanted[1]}, got {start}-{end}")
    if size is not None and total != "*" and int(total) != size:
        raise RemoteError(f"the file changed on the server: it now has {total} bytes, expected {size}",
                          source=response.url)
    if len(response.content) != end - start + 1:
        raise _Transient(f"body has {len(response.content)} bytes, Content-Range says {end - start + 1}")


def _describe(exc: BaseException) -> str:
    text = redact_text(" ".join((str(exc) or type(exc).__name__).split()))
    if isinstance(exc, requests.ConnectionError):
        if match := re.search(r"Failed to resolve '([^']+)'", text):
            return f"cannot resolve host {match[1]} (no network?)"
        if "Connection refused" in text:
            return "connection refused (is the server up?)"
        if "timed out" in text.lower():
            return "timed out waiting for the server"
    if isinstance(exc, requests.Timeout):
        return "timed out waiting for the server"
    return text[:300]


@dataclass(frozen=True)
class RemoteSize:
    """What a one-byte Range request tells of a remote file."""

    size: int | None
    """Bytes: the total of its Content-Range, or the Content-Length of a server that ignores Range (None: neither)."""
    stream_error: str | None = None
    """Why it cannot be streamed (Range ignored, or no total size); None when it can. A download needs neither."""


def probe_size(session: HttpSession, url: str) -> RemoteSize:
    """Size of a remote file and whether it can be streamed, from a one-byte Range request (of a server that ignores
    Range and starts sending the whole file, only the headers are read)."""
    with session.get(url, headers={"Range": "bytes=0-0"}, stream=True) as response:  # an error status has raised
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if response.status_code == 206 and match and match[3] != "*":
            return RemoteSize(int(match[3]))
        if response.status_code == 206:
            return RemoteSize(None, _NO_TOTAL)
        length = response.headers.get("Content-Length", "")
        return RemoteSize(int(length) if length.isdigit() else None, _RANGE_IGNORED)


def download_to(
    session: HttpSession,
    url: str,
    out: IO[bytes],
    *,
    size: int | None,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Stream ``url`` into ``out`` (an open, empty binary file); ``progress(n)`` gets every block's size.

    A body cut short is resumed with a Range request from where it stopped (restarted from zero, with a negative
    ``progress``, when the server will not resume), within the session's retry policy. Checks the byte count
    against ``size`` when known. Returns the number of bytes written; raises ``RemoteError``.
    """
    policy = session.policy
    written, started = 0, time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            written = _download_attempt(session, url, out, written, size, progress)
            if size is not None and written != size:
                raise _Transient(f"got {written} bytes, expected {size}")
            return written
        except _RETRYABLE as exc:
            if size is not None and out.tell() == size:
                return size  # every byte arrived before the connection broke; the digest check decides
            wait = _backoff(policy, attempt, started)
            if wait is None:
                raise RemoteError(f"download failed after {attempt} attempt(s) in {time.monotonic() - started:.1f} s: "
                                  f"{_describe(exc)}", source=url) from None
            written = out.tell()
            log.info("resuming download of %s at byte %d in %.1f s (%s)", redact_url(url), written, wait,
                     _describe(exc))
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _download_attempt(session: HttpSession, url: str, out: IO[bytes], offset: int, size: int | None,
                      progress: Callable[[int], object] | None) -> int:
    """One GET (resuming at ``offset`` when possible); returns the bytes now in ``out``."""
    response = session.get(url, headers={"Range": f"bytes={offset}-"} if offset else {}, stream=True)
    with response:
        if response.status_code >= 400:
            raise _status_error(response, url)
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if offset and not (response.status_code == 206 and match and int(match[1]) == offset):
            if progress:
                progress(-offset)
            out.seek(0)
            out.truncate()
            offset = 0
        deadline = time.monotonic() + session.policy.deadline_for((size or 0) - offset)
        for block in _body_blocks(response, deadline):
            out.write(block)
            offset += len(block)
            session.count(len(block))
            if progress:
                progress(len(block))
    return offset
