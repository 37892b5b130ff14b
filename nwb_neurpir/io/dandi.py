"""DANDI Archive lookups through the real ``dandi`` client (``DandiAPIClient``): dandisets, versions, asset paths,
globs and asset IDs, turned into ``ResolvedSource`` objects, plus each asset's size, digests and content URLs.

The API URL is ``api_url`` if given, else ``NEURPIR_DANDI_API_URL``, else the public archive. The client's HTTP
goes through ``HttpSession`` (timeouts, bounded retries); its construction (which asks the server for
``/server-info`` with no timeout of its own) runs under a deadline. ``DANDI_NO_ET`` is set so the client does not
ask etelemetry for newer versions. Asset details are cached on disk by asset ID: DANDI assets are immutable (a
changed file or metadata gets a new asset ID), so a cached asset opens again without the network. So do the
listings of dandisets and their paths: a published version's from the cache alone (it cannot change), a draft's
from the cache, with a warning, when the archive cannot be reached.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.cache import AssetCache, cache_key
from nwb_neurpir.io.remote import ApiKey, HttpPolicy, HttpSession, RemoteError, origin_of
from nwb_neurpir.recording import SourceInfo
from nwb_neurpir.io.sources import ResolvedSource, SourceSpec, is_nwb_path

__all__ = ["API_URL_ENV", "DEFAULT_API_URL", "AssetDetails", "DandiResolver", "default_api_url"]

API_URL_ENV = "NEURPIR_DANDI_API_URL"
DEFAULT_API_URL = "https://api.dandiarchive.org/api"


def default_api_url() -> str:
    """``NEURPIR_DANDI_API_URL`` if set, else the public DANDI Archive API."""
    return os.environ.get(API_URL_ENV) or DEFAULT_API_URL


@dataclass(frozen=True)
class AssetDetails:
    """What the archive says about one asset (``GET /api/assets/<id>/info/``)."""

    api_url: str
    asset_id: str
    path: str
    size: int
    is_zarr: bool
    encoding_format: str | None = None
    digests: dict[str, str] = field(default_factory=dict)
    """e.g. ``{"dandi:sha2-256": ..., "dandi:dandi-etag": ...}``."""
    content_urls: list[str] = field(default_factory=list)
    embargoed: bool = False
    """The metadata's access requirements say embargoed: its blob URL needs the API's signed redirect."""

    @property
    def download_url(self) -> str:
        """The API download URL (answers with a redirect to the blob store)."""
        return f"{self.api_url}/assets/{self.asset_id}/download/"

    @property
    def stream_url(self) -> str:
        """The blob URL listed in the metadata (saves a redirect per Range request), else -- and always for an
        embargoed asset, whose listed blob URL is unsigned -- the download URL."""
        direct = [url for url in self.content_urls if url.startswith(("http://", "https://"))
                  and not url.startswith(self.api_url + "/")]
        return direct[0] if direct and not self.embargoed else self.download_url

    def check_nwb(self, source: str) -> None:
        """Raise ``NeurPIRError`` unless this is an NWB HDF5 file."""
        _check_nwb_asset(self.path, is_zarr=self.is_zarr, encoding_format=self.encoding_format, source=source)


def _nwb_asset_problem(path: str, *, is_zarr: bool, encoding_format: str | None = None) -> str | None:
    """Why an asset is not an NWB HDF5 file (Zarr, or neither named ``*.nwb`` nor encoded as NWB); ``None`` if it
    is one."""
    if is_zarr:
        return "is a Zarr asset"
    if is_nwb_path(path) or encoding_format == "application/x-nwb":
        return None
    return f"is not an NWB file (encoding {encoding_format})" if encoding_format else "is not an NWB file"


def _check_nwb_asset(path: str, *, is_zarr: bool, encoding_format: str | None, source: str) -> None:
    """Raise a one-line ``NeurPIRError`` unless the asset is an NWB HDF5 file (see ``_nwb_asset_problem``)."""
    if problem := _nwb_asset_problem(path, is_zarr=is_zarr, encoding_format=encoding_format):
        raise NeurPIRError(f"asset {path!r} {problem}; only NWB HDF5 files (.nwb) can be read", source=source)


def api_key_env_var(api_url: str) -> str:
    """The environment variable the ``dandi`` client reads this API's key from (its ``api_key_env_var``):
    ``<INSTANCE>_API_KEY``, e.g. ``DANDI_API_KEY``; an unknown server's instance is named ``host:port``."""
    from dandi.consts import known_instances_rev

    parts = urlsplit(api_url)
    name = known_instances_rev.get(api_url.rstrip("/")) or (
        f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname))
    return f"{name.upper().replace('-', '_')}_API_KEY"


class DandiResolver:
    """Looks sources up in one DANDI API; the ``dandi`` client is created on first need. ``token`` (else the
    instance's ``*_API_KEY`` variable) authenticates it; without one it is anonymous."""

    def __init__(self, api_url: str | None = None, *, cache_dir: str | Path | None = None,
                 cache: AssetCache | None = None, policy: HttpPolicy | None = None, token: str | None = None) -> None:
        self.api_url = (api_url or default_api_url()).rstrip("/")
        self.cache = cache if cache is not None else AssetCache(cache_dir)
        self.key_env_var = api_key_env_var(self.api_url)
        key = token or os.environ.get(self.key_env_var)
        self.api_key = ApiKey(origin_of(self.api_url), key) if key else None
        """Sent to this API's origin only, by the resolver's session and by ``DataAccess``'s download sessions."""
        self.key_origin = "token=" if token else self.key_env_var
        self.session = HttpSession(policy, self.api_key)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The ``dandi.dandiapi.DandiAPIClient`` for this API (created under a deadline, on our session), checked
        and authenticated with the API key when there is one."""
        if self._client is None:
            client = _make_client(self.api_url, self.session)
            if self.api_key is not None:
                with _dandi_errors(self.api_url, self.api_url, self._key_note()):
                    client.authenticate(self.api_key.key)
            self._client = client
        return self._client

    def _key_note(self) -> str:
        """What the errors say about the API key: which one was sent, or which variable to set."""
        if self.api_key is not None:
            return f"an API key was sent (from {self.key_origin}); it may be wrong, expired or lack access"
        return f"no API key was sent; set {self.key_env_var} to your DANDI API key"

    # -- resolution ----------------------------------------------------------------------------------------
    def resolve(self, spec: SourceSpec, glob: str | None = None) -> list[ResolvedSource]:
        """The NWB assets a ``dandi_asset`` or ``dandiset`` spec names (``glob`` filters dandisets/folders)."""
        with _dandi_errors(self.api_url, spec.text, self._key_note()):
            if spec.kind == "dandi_asset":
                details = self.details(spec.asset_id or "")
                details.check_nwb(spec.text)
                return [self._resolved(details.asset_id, details.path, details.size, spec.dandiset, spec.version)]
            if spec.kind != "dandiset":
                raise NeurPIRError(f"not a DANDI source ({spec.kind})", source=spec.text)
            return self._resolve_dandiset(spec, glob)

    def _resolve_dandiset(self, spec: SourceSpec, glob: str | None) -> list[ResolvedSource]:
        """The assets a dandiset spec names, listed by the archive, or by the cache when the listing cannot have
        changed (a published version) or the archive cannot be reached."""
        key = cache_key("listing", "|".join([self.api_url, spec.dandiset or "", spec.version or "", spec.path or "",
                                             glob or ""]))
        cached = self.cache.read_meta(key)
        if cached and spec.version not in (None, "draft"):
            return self._listed(cached)
        try:
            found = self._list_dandiset(spec, glob)
        except RemoteError as error:
            if not cached:
                raise
            warnings.warn(f"{spec.text}: the DANDI archive cannot be reached ({error.one_line()}); using its "
                          f"listing of {cached['listed']}", stacklevel=2)
            return self._listed(cached)
        listed = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.cache.write_meta(key, {"listed": listed, "assets": [
            [r.info.asset_id, r.info.asset_path, r.size, r.info.dandiset, r.info.version] for r in found]})
        return found

    def _listed(self, cached: dict) -> list[ResolvedSource]:
        return [self._resolved(*row) for row in cached["assets"]]

    def _list_dandiset(self, spec: SourceSpec, glob: str | None) -> list[ResolvedSource]:
        from dandi.dandiapi import RemoteBlobAsset

        dandiset = self._dandiset(spec)
        version = dandiset.version_id
        path = spec.path or ""
        if path and not path.endswith("/") and "*" not in path:
            asset = dandiset.get_asset_by_path(path)
            _check_nwb_asset(asset.path, is_zarr=not isinstance(asset, RemoteBlobAsset), encoding_format=None,
                            source=spec.text)
            return [self._resolved(asset.identifier, asset.path, asset.size, spec.dandiset, version)]
        if "*" in path and glob:
            raise NeurPIRError("give the glob once: either in the source or with --glob", source=spec.text)
        pattern = path if "*" in path else (path + glob if glob else None)
        assets: Iterable[Any]
        if pattern:
            assets = dandiset.get_assets_by_glob(pattern, order="path")
        elif path:
            assets = dandiset.get_assets_with_path_prefix(path, order="path")
        else:
            assets = dandiset.get_assets(order="path")
        found = [self._resolved(a.identifier, a.path, a.size, spec.dandiset, version) for a in assets
                 if _nwb_asset_problem(a.path, is_zarr=not isinstance(a, RemoteBlobAsset)) is None]
        if not found:
            what = f"matching {pattern!r}" if pattern else f"under {path!r}" if path else "in it"
            raise NeurPIRError(f"no NWB assets {what} in dandiset {spec.dandiset} version {version}",
                               source=spec.text)
        return sorted(found, key=lambda source: source.info.asset_path or "")

    def _dandiset(self, spec: SourceSpec) -> Any:
        """The dandiset version a spec names; when it is not found and no key was sent, the error says it may be
        embargoed (the archive answers 404 for those to anonymous users)."""
        from dandi.exceptions import NotFoundError

        try:
            return self.client.get_dandiset(spec.dandiset, spec.version, lazy=False)
        except NotFoundError as exc:
            if self.api_key is not None:
                raise
            raise NeurPIRError(f"not found in the DANDI archive at {self.api_url}: {_first_line(exc)} (if it is "
                               f"embargoed or private: {self._key_note()})", source=spec.text) from None

    def _resolved(self, asset_id: str, path: str, size: int, dandiset: str | None,
                  version: str | None) -> ResolvedSource:
        info = SourceInfo(location=f"{self.api_url}/assets/{asset_id}/download/", dandiset=dandiset,
                          version=version, asset_id=asset_id, asset_path=path)
        return ResolvedSource(kind="dandi", info=info, size=size, api_url=self.api_url)

    # -- asset details -------------------------------------------------------------------------------------
    def details(self, asset_id: str) -> AssetDetails:
        """Size, path, digests and content URLs of an asset: from the cache, else ``GET /assets/<id>/info/``."""
        key = cache_key("dandi", asset_id)
        cached = self.cache.read_meta(key)
        if cached and cached.get("api_url") == self.api_url:
            return AssetDetails(**cached)
        with _dandi_errors(self.api_url, asset_id, self._key_note()):
            asset = self.client.get_asset(asset_id)
            metadata = asset.get_raw_metadata() or {}
        from dandi.dandiapi import BaseRemoteZarrAsset

        urls = metadata.get("contentUrl") or []
        details = AssetDetails(
            api_url=self.api_url, asset_id=asset.identifier, path=asset.path, size=int(asset.size),
            is_zarr=isinstance(asset, BaseRemoteZarrAsset), encoding_format=metadata.get("encodingFormat"),
            digests={str(k): str(v) for k, v in (metadata.get("digest") or {}).items()},
            content_urls=[str(url) for url in (urls if isinstance(urls, list) else [urls])],
            embargoed=_is_embargoed(metadata))
        self.cache.write_meta(key, asdict(details))
        return details


def _is_embargoed(metadata: dict) -> bool:
    """True when the asset metadata's ``access`` requirements include ``dandi:EmbargoedAccess``."""
    access = metadata.get("access") or []
    return any(isinstance(rule, dict) and rule.get("status") == "dandi:EmbargoedAccess" for rule in access)


def _make_client(api_url: str, session: HttpSession) -> Any:
    """Create the ``DandiAPIClient`` with a deadline, then route its requests through ``session``."""
    os.environ.setdefault("DANDI_NO_ET", "1")
    from dandi.dandiapi import DandiAPIClient

    result: dict[str, Any] = {}

    def build() -> None:
        try:
            result["client"] = DandiAPIClient(api_url=api_url)
        except Exception as exc:  # reported below, in the caller's thread
            result["error"] = exc

    policy = session.policy
    deadline = policy.connect_timeout + policy.read_timeout
    with _quiet_dandi_logs():
        worker = threading.Thread(target=build, name="dandi-client", daemon=True)
        worker.start()
        worker.join(deadline)
    if worker.is_alive():
        raise RemoteError(f"no answer from the DANDI server within {deadline:.0f} s (GET /server-info)",
                          source=api_url)
    if "error" in result:
        raise RemoteError(f"cannot use this DANDI API ({_first_line(result['error'])})", source=api_url)
    client = result["client"]
    session.headers.update(client.session.headers)
    client.session = session
    return client


@contextmanager
def _dandi_errors(api_url: str, source: str, key_note: str = "") -> Iterator[None]:
    """Turn the dandi client's exceptions into one-line ``NeurPIRError``s; a refusal (401/403) adds ``key_note``."""
    import requests
    from dandi.exceptions import NotFoundError

    try:
        with _quiet_dandi_logs():
            yield
    except NeurPIRError:
        raise
    except NotFoundError as exc:
        raise NeurPIRError(f"not found in the DANDI archive at {api_url}: {_first_line(exc)}", source=source) \
            from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (401, 403):
            raise NeurPIRError(f"the DANDI API at {api_url} refused access (HTTP {status}): the dandiset may be "
                               f"embargoed or private; {key_note}", source=source) from None
        raise NeurPIRError(f"the DANDI API at {api_url} answered HTTP {status}", source=source) from None
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise NeurPIRError(f"unexpected answer from the DANDI API at {api_url}: {_first_line(exc)}",
                           source=source) from None


class _DemoteToDebug(logging.Filter):
    """The dandi client logs failures at ERROR before raising; we report them ourselves as one line, so its
    records are shown only at debug level (``neurpir -vv``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


@contextmanager
def _quiet_dandi_logs() -> Iterator[None]:
    logger = logging.getLogger("dandi")
    demote = _DemoteToDebug()
    logger.addFilter(demote)
    try:
        yield
    finally:
        logger.removeFilter(demote)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[0].split()) if text else type(exc).__name__
