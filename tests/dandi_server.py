"""A loopback DANDI Archive for tests: the REST endpoints the ``dandi`` client calls, blob downloads with exact
HTTP Range support, counters of what was served, and faults switchable per test.

Endpoints (as logged against dandi 0.81, see ``shared/notes/nwb-dandi-facts.md``)::

    GET /server-info, /api/info/                          server info (services.api.url)
    GET /api/dandisets/{d}/                                dandiset with draft / most recent published version
    GET /api/dandisets/{d}/versions/{v}/info/              version info
    GET /api/dandisets/{d}/versions/{v}/assets/?path=&glob=&order=&page=&page_size=   paginated listing
    GET /api/dandisets/{d}/versions/{v}/assets/{id}/       asset metadata (digest, contentUrl, encodingFormat)
    GET /api/[dandisets/{d}/versions/{v}/]assets/{id}/info/   asset + metadata
    GET /api/assets/{id}/                                  asset metadata
    GET|HEAD /api/[dandisets/{d}/versions/{v}/]assets/{id}/download/   302 -> /blobs/{blob}
    GET|HEAD /blobs/{blob}                                 the file: 206 + exact Content-Range/Length for Range

Faults (``set_fault``): ``error500``, ``reset`` (connection reset -- RST -- mid-body), ``truncate`` (half the body,
then a clean close), ``length_over`` / ``length_under``
(Content-Length larger / smaller than the body), ``ignore_range`` (200 + whole file), ``ignore_range_no_length``
(200 + whole file without Content-Length, its end marked by closing the connection), ``slow`` (no answer for
``delay`` s), ``trickle`` (body at ``rate`` bytes/s), ``not_found``, ``expired`` (403 with S3's "Request has
expired", as for a presigned URL past its expiry). Each applies to requests whose path matches
``target`` (a regex; default the blobs), for ``times`` requests (None: always). Redirects from the download endpoint
go to ``redirect_host`` (e.g. ``localhost`` -- another host name for the same server -- or a dead port).

Embargo mode (``api_key=...``), as the real archive treats an embargoed dandiset: every ``/api/dandisets/`` and
``/api/assets/`` request needs ``Authorization: token <api_key>`` (else 401, or 404 for the dandiset's own endpoints
with ``hide_embargoed``); ``/api/auth/token/`` answers 200 only to that header; the download endpoint redirects to a
signed blob URL (``?signature=...``) and a blob without a valid signature answers 403; the asset metadata lists the
unsigned blob URL (and, with ``embargo_in_metadata``, ``access: dandi:EmbargoedAccess``). ``auth_log`` records the
``Host`` and ``Authorization`` headers of every request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import struct
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from nwb_neurpir.io.access import DataAccess
from nwb_neurpir.io.remote import HttpPolicy

__all__ = ["EMBARGO_KEY", "FAST_HTTP", "Fault", "LoopbackDandi", "ServedAsset"]

FAST_HTTP = HttpPolicy(connect_timeout=1.0, read_timeout=1.0, attempt_deadline=5.0, attempts=3, backoff=0.05,
                       max_backoff=0.2, total_budget=10.0)
"""Client settings for tests against this server: short timeouts, three quick attempts (about a second per fault)."""

EMBARGO_KEY = "loopback-embargo-key-0123456789abcdef"
"""An API key for tests of the embargo mode (``LoopbackDandi(api_key=EMBARGO_KEY)``)."""

_TIME = "2024-01-01T00:00:00.000000Z"
_DANDISET_ASSETS = re.compile(r"/api/dandisets/(\d{6})/versions/([^/]+)/assets/")
_ASSET = re.compile(r"/api/(?:dandisets/(\d{6})/versions/([^/]+)/)?assets/([0-9a-f-]{36})/(info/|download/)?")
FAULT_KINDS = ("error500", "reset", "truncate", "length_over", "length_under", "ignore_range", "ignore_range_no_length",
               "slow", "trickle", "not_found", "expired")


@dataclass
class Fault:
    """A misbehaviour applied to matching requests."""

    kind: str
    target: str = r"^/blobs/"
    times: int | None = None
    delay: float = 5.0
    rate: float = 2000.0


@dataclass
class ServedAsset:
    """One asset the server offers."""

    asset_id: str
    path: str
    size: int
    blob_id: str
    sha256: str
    etag: str
    zarr: bool = False
    versions: set[str] = field(default_factory=lambda: {"draft"})
    digests: dict[str, str] = field(default_factory=dict)


class LoopbackDandi:
    """A threaded HTTP server on 127.0.0.1 (random port) that behaves like the DANDI API for one dandiset."""

    def __init__(self, dandiset: str = "000123", *, page_size: int = 100, blob_urls_in_metadata: bool = True,
                 redirect_host: str = "127.0.0.1", api_key: str | None = None, hide_embargoed: bool = False,
                 embargo_in_metadata: bool = True) -> None:
        self.dandiset = dandiset
        self.api_key = api_key
        self.hide_embargoed = hide_embargoed
        self.embargo_in_metadata = embargo_in_metadata
        self.auth_log: list[tuple[str, str, str | None]] = []
        """(Host header, path, Authorization header) of every request."""
        self.page_size = page_size
        self.blob_urls_in_metadata = blob_urls_in_metadata
        self.redirect_host = redirect_host
        self.redirect_port: int | None = None
        self.published: list[str] = []
        self.assets: dict[str, ServedAsset] = {}
        self.blobs: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.blob_bytes = 0
        self.log: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    def access(self, cache_dir: Path, http: HttpPolicy = FAST_HTTP, **options: object) -> DataAccess:
        """A ``DataAccess`` to this archive, caching under ``cache_dir`` (``options``: e.g. ``cache_max_bytes``)."""
        return DataAccess(api_url=self.api_url, cache_dir=cache_dir, http=http, **options)

    def start(self) -> LoopbackDandi:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-dandi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackDandi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- content -------------------------------------------------------------------------------------------
    def add_asset(self, path: str, file: Path | bytes, *, zarr: bool = False, asset_id: str | None = None,
                  digests: str = "sha256+etag") -> ServedAsset:
        """Serve ``file`` (a path, read now, or bytes) as the asset ``path`` of the draft version. ``digests``
        chooses what its metadata lists: ``sha256+etag``, ``sha256``, ``etag`` or ``none``."""
        content = file.read_bytes() if isinstance(file, Path) else bytes(file)
        asset = ServedAsset(
            asset_id=asset_id or str(uuid.UUID(int=(self.port << 64) + len(self.assets) + 1)),
            path=path, size=len(content),
            blob_id=hashlib.md5(content + path.encode()).hexdigest(), sha256=hashlib.sha256(content).hexdigest(),
            etag=_bytes_etag(content), zarr=zarr)
        if "sha256" in digests:
            asset.digests["dandi:sha2-256"] = asset.sha256
        if "etag" in digests:
            asset.digests["dandi:dandi-etag"] = asset.etag
        self.blobs[asset.blob_id] = content
        self.assets[asset.asset_id] = asset
        return asset

    def replace_content(self, asset: ServedAsset, content: bytes) -> None:
        """Change the bytes behind an asset (a corrupted blob store)."""
        self.blobs[asset.blob_id] = content

    def publish(self, version: str) -> None:
        """Make every current asset part of the published ``version`` (the most recent one)."""
        self.published.append(version)
        for asset in self.assets.values():
            asset.versions.add(version)

    # -- faults and counters -------------------------------------------------------------------------------
    def set_fault(self, kind: str, *, target: str = r"^/blobs/", times: int | None = None, delay: float = 5.0,
                  rate: float = 2000.0) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        fault = Fault(kind=kind, target=target, times=times, delay=delay, rate=rate)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def reset_counters(self) -> None:
        with self._lock:
            self.blob_bytes = 0
            self.log.clear()

    def signature(self, blob_id: str) -> str:
        """The signature the download endpoint puts on an embargoed blob's URL."""
        return hmac.new(b"loopback-signing-secret", blob_id.encode(), hashlib.sha256).hexdigest()

    def refusal(self, path: str, authorization: str | None) -> tuple[int, str] | None:
        """Status and detail for an API request embargo mode refuses; None when it is allowed."""
        if self.api_key is None or authorization == f"token {self.api_key}":
            return None
        if path.rstrip("/") == "/api/auth/token":
            return 401, "Invalid token."
        if not path.startswith(("/api/dandisets/", "/api/assets/")):
            return None
        if authorization is not None:
            return 401, "Invalid token."
        if self.hide_embargoed and path.startswith("/api/dandisets/"):
            return 404, "Not found."
        return 401, "Authentication credentials were not provided."

    def requests_to(self, pattern: str) -> int:
        """How many logged requests had a path matching ``pattern``."""
        return sum(1 for _, path, _ in self.log if re.search(pattern, path))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if re.search(fault.target, path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _log_auth(self, host: str, path: str, authorization: str | None) -> None:
        with self._lock:
            self.auth_log.append((host, path, authorization))

    def _count(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self.blob_bytes += n

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the server stops."""
        self._stopping.wait(seconds)

    # -- JSON documents ------------------------------------------------------------------------------------
    def version_doc(self, version: str) -> dict:
        assets = [a for a in self.assets.values() if version in a.versions]
        return {"version": version, "name": "Loopback test dandiset", "asset_count": len(assets),
                "size": sum(a.size for a in assets), "status": "Published" if version != "draft" else "Valid",
                "created": _TIME, "modified": _TIME}

    def dandiset_doc(self) -> dict:
        latest = self.published[-1] if self.published else None
        return {"identifier": self.dandiset, "created": _TIME, "modified": _TIME, "contact_person": "Test Person",
                "embargo_status": "EMBARGOED" if self.api_key else "OPEN", "draft_version": self.version_doc("draft"),
                "most_recent_published_version": self.version_doc(latest) if latest else None}

    def asset_doc(self, asset: ServedAsset) -> dict:
        return {"asset_id": asset.asset_id, "blob": None if asset.zarr else asset.blob_id,
                "zarr": asset.blob_id if asset.zarr else None, "path": asset.path, "size": asset.size,
                "created": _TIME, "modified": _TIME}

    def metadata_doc(self, asset: ServedAsset) -> dict:
        urls = [f"{self.api_url}/assets/{asset.asset_id}/download/"]
        if self.blob_urls_in_metadata:
            urls.append(f"{self.base_url}/blobs/{asset.blob_id}")
        encoding = ("application/x-nwb" if asset.path.endswith(".nwb") else
                    "application/x-zarr" if asset.zarr else "text/plain")
        doc = {"id": f"dandiasset:{asset.asset_id}", "identifier": asset.asset_id, "path": asset.path,
               "contentSize": asset.size, "encodingFormat": encoding, "digest": dict(asset.digests),
               "contentUrl": urls, "schemaKey": "Asset"}
        if self.api_key and self.embargo_in_metadata:
            doc["access"] = [{"schemaKey": "AccessRequirements", "status": "dandi:EmbargoedAccess"}]
        return doc


class _QuietServer(ThreadingHTTPServer):
    """Handler threads are daemons; clients hanging up mid-answer (which the fault tests cause) are not errors."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _bytes_etag(content: bytes) -> str:
    from dandischema.digests.dandietag import DandiETag

    etag = DandiETag(len(content))
    offset = 0
    for part in etag.get_parts():
        etag.update(content[offset:offset + part.size])
        offset += part.size
    return etag.as_str()


def _make_handler(server: LoopbackDandi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

        def do_HEAD(self) -> None:  # noqa: N802
            self._dispatch(head=True)

        def do_GET(self) -> None:  # noqa: N802
            self._dispatch(head=False)

        # -- routing -------------------------------------------------------------------------------------
        def _dispatch(self, head: bool) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path, parse_qs(parts.query)
            server._log_auth(self.headers.get("Host", ""), path, self.headers.get("Authorization"))
            fault = server._take_fault(path)
            try:
                if refusal := server.refusal(path, self.headers.get("Authorization")):
                    return self._json({"detail": refusal[1]}, refusal[0])
                if path.rstrip("/") == "/api/auth/token":
                    return self._json({"detail": "ok"})
                if fault is not None and fault.kind == "slow":
                    server.wait(fault.delay)
                if fault is not None and fault.kind in ("error500", "not_found"):
                    status = 500 if fault.kind == "error500" else 404
                    return self._json({"detail": "injected fault"}, status)
                if fault is not None and fault.kind == "expired":
                    body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                    return self._send(403, body, {"Content-Type": "application/xml"}, head=head)
                if path.startswith("/blobs/"):
                    blob_id = path.rsplit("/", 1)[-1]
                    if server.api_key and query.get("signature") != [server.signature(blob_id)]:
                        return self._send(403, b"<Error><Code>AccessDenied</Code></Error>", {}, head=head)
                    return self._blob(blob_id, head, fault)
                if path in ("/server-info", "/api/info/"):
                    return self._json({"version": "0.0.0", "cli-minimal-version": "0.1.0", "cli-bad-versions": [],
                                       "services": {"api": {"url": server.api_url}}})
                if match := _ASSET.fullmatch(path):
                    return self._asset(match, head)
                if match := _DANDISET_ASSETS.fullmatch(path):
                    return self._listing(match[1], match[2], query)
                if match := re.fullmatch(r"/api/dandisets/(\d{6})/versions/([^/]+)/info/", path):
                    return self._version(match[1], match[2])
                if match := re.fullmatch(r"/api/dandisets/(\d{6})/", path):
                    if match[1] != server.dandiset:
                        return self._json({"detail": "Not found."}, 404)
                    return self._json(server.dandiset_doc())
                return self._json({"detail": "Not found."}, 404)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _version(self, dandiset: str, version: str) -> None:
            if dandiset != server.dandiset or (version != "draft" and version not in server.published):
                return self._json({"detail": "Not found."}, 404)
            return self._json({**server.version_doc(version), "asset_validation_errors": [],
                               "version_validation_errors": []})

        def _asset(self, match: re.Match, head: bool) -> None:
            asset = server.assets.get(match[3])
            if asset is None or (match[1] and (match[1] != server.dandiset or match[2] not in asset.versions)):
                return self._json({"detail": "Not found."}, 404)
            if match[4] == "download/":
                host = server.redirect_host
                port = server.redirect_port or server.port
                signed = f"?signature={server.signature(asset.blob_id)}" if server.api_key else ""
                return self._send(302, b"", {"Location": f"http://{host}:{port}/blobs/{asset.blob_id}{signed}"},
                                  head=head)
            if match[4] == "info/":
                return self._json({**server.asset_doc(asset), "metadata": server.metadata_doc(asset)})
            return self._json(server.metadata_doc(asset))

        def _listing(self, dandiset: str, version: str, query: dict[str, list[str]]) -> None:
            if dandiset != server.dandiset or (version != "draft" and version not in server.published):
                return self._json({"detail": "Not found."}, 404)
            assets = [a for a in server.assets.values() if version in a.versions]
            if prefix := query.get("path", [""])[0]:
                assets = [a for a in assets if a.path.startswith(prefix)]
            if glob := query.get("glob", [""])[0]:  # the archive's semantics: only * is special, case-insensitive
                pattern = re.compile("^" + re.escape(glob).replace(r"\*", ".*") + "$", re.IGNORECASE)
                assets = [a for a in assets if pattern.match(a.path)]
            if query.get("order", [""])[0].lstrip("-") == "path":
                assets.sort(key=lambda a: a.path, reverse=query["order"][0].startswith("-"))
            size = int(query.get("page_size", [server.page_size])[0])
            page = int(query.get("page", ["1"])[0])
            chunk = assets[(page - 1) * size: page * size]
            following = None
            if page * size < len(assets):
                flat = {key: values[0] for key, values in query.items()}
                flat["page"] = str(page + 1)
                host = self.headers.get("Host", f"127.0.0.1:{server.port}")
                following = f"http://{host}{urlsplit(self.path).path}?{urlencode(flat)}"
            return self._json({"count": len(assets), "next": following, "previous": None,
                               "results": [server.asset_doc(a) for a in chunk]})

        # -- blobs ---------------------------------------------------------------------------------------
        def _blob(self, blob_id: str, head: bool, fault: Fault | None) -> None:
            content = server.blobs.get(blob_id)
            if content is None:
                return self._json({"detail": "Not found."}, 404)
            wanted = _parse_range(self.headers.get("Range"), len(content))
            if wanted == "invalid":
                return self._send(416, b"", {"Content-Range": f"bytes */{len(content)}"}, head=head)
            if wanted is None or (fault is not None and fault.kind.startswith("ignore_range")):
                start, end, status = 0, len(content) - 1, 200
            else:
                start, end = wanted
                status = 206
            body = content[start:end + 1]
            headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream",
                       "ETag": f'"{blob_id}"'}
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            kind = fault.kind if fault is not None else None
            if kind == "length_over":
                return self._send(status, body, headers, head=head, length=len(body) + 1000, close=True)
            if kind == "length_under":
                cut = max(1, len(body) // 2)
                return self._send(status, body[:cut], headers, head=head, length=cut, close=True)
            if kind == "ignore_range_no_length":
                return self._send(status, body, headers, head=head, length=-1, close=True, count=True)
            if kind in ("reset", "truncate"):
                return self._send(status, body[: len(body) // 2], headers, head=head, length=len(body),
                                  reset=kind == "reset", close=kind == "truncate")
            return self._send(status, body, headers, head=head, rate=fault.rate if kind == "trickle" else None,
                              count=True)

        # -- writing -------------------------------------------------------------------------------------
        def _json(self, document: dict, status: int = 200) -> None:
            self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json"})

        def _send(self, status: int, body: bytes, headers: dict[str, str], *, head: bool = False,
                  length: int | None = None, close: bool = False, reset: bool = False, rate: float | None = None,
                  count: bool = False) -> None:
            server._count(self.command, urlsplit(self.path).path, status)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if length != -1:  # -1: no Content-Length (the body ends when the connection closes)
                self.send_header("Content-Length", str(len(body) if length is None else length))
            if close or reset:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if head:
                return
            if rate is not None:
                step = max(1, int(rate / 10))
                for offset in range(0, len(body), step):
                    if server._stopping.is_set():
                        break
                    self.wfile.write(body[offset:offset + step])
                    self.wfile.flush()
                    server._add_bytes(min(step, len(body) - offset))
                    server.wait(0.1)
            else:
                self.wfile.write(body)
                self.wfile.flush()
                if count or reset or close:
                    server._add_bytes(len(body))
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

    return Handler


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` for a single ``bytes=`` range, None without one, "invalid" when unsatisfiable."""
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or (not match[1] and not match[2]):
        return "invalid"
    if not match[1]:
        start, end = max(0, size - int(match[2])), size - 1
    else:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or start > end:
        return "invalid"
    return start, end
