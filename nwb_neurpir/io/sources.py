"""Every way a user can name NWB data -- local files, folders, globs, DANDI IDs and URLs -- parsed before anything is
looked up (no network, no listing, no file opened).

``parse_source`` turns one string into a ``SourceSpec`` without touching the network (on disk it only asks "does it
exist, and is it a folder?"), so every form can be unit-tested on its own; ``nwb_neurpir.io.resolve.resolve_sources``
expands specs into the single NWB files to open (``ResolvedSource``).

Accepted forms (see ``SOURCE_FORMS``)::

    path/to/file.nwb                      a local file
    path/to/folder                        every *.nwb below it (recursively, into linked folders; hidden files
                                          and folders are skipped)
    'data/**/*.nwb'                       a glob (quote it in the shell); a path that exists is never one, even
                                          with [ ] in its name, nor is a pathlib.Path
    5f2a...-...                           a DANDI asset ID (UUID)
    DANDI:000021[/<version>][/<path>]     a dandiset, a version, a folder (ending in /), a file or a glob with *
    https://api.dandiarchive.org/api/assets/<id>/download/
    https://api.dandiarchive.org/api/dandisets/<d>/versions/<v>/assets/<id>/
    https://dandiarchive.org/dandiset/<d>[/<version>][/files?location=<path>]
    https://host/file.nwb, s3://bucket/key.nwb
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.recording import SourceInfo

__all__ = [
    "SOURCE_FORMS",
    "ResolvedSource",
    "SourceSpec",
    "is_nwb_path",
    "parse_source",
]

SOURCE_FORMS = (
    "a local .nwb file, a folder, a glob, a DANDI asset ID, DANDI:<dandiset>[/<version>][/<path>], "
    "a DANDI archive URL, or an https:// / s3:// URL of an NWB file"
)

SpecKind = Literal["file", "folder", "glob", "dandi_asset", "dandiset", "url"]

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DANDISET = r"\d{6}"
_VERSION = r"draft|\d+\.\d+\.\d+"
_UUID_RE = re.compile(_UUID)
_VERSION_RE = re.compile(_VERSION)
_DANDI_PREFIX_RE = re.compile(r"dandi:", re.IGNORECASE)
_DANDI_URL_RE = re.compile(rf"dandi://(?P<instance>[^/]+)/(?P<dandiset>{_DANDISET})(?:@(?P<version>{_VERSION}))?"
                           r"(?P<rest>/.*)?", re.IGNORECASE | re.DOTALL)
_DANDI_ID_RE = re.compile(r"dandi:(?P<dandiset>[^/]*)(?:/(?P<rest>.*))?", re.IGNORECASE | re.DOTALL)
_API_ASSET_RE = re.compile(rf"(?P<api>.*?/api)/assets/(?P<asset>{_UUID})(?:/(?:download|info)?)?/?")
_API_VERSION_ASSET_RE = re.compile(
    rf"(?P<api>.*?/api)/dandisets/(?P<dandiset>{_DANDISET})/versions/(?P<version>{_VERSION})"
    rf"/assets/(?P<asset>{_UUID})(?:/(?:download|info)?)?/?")
_API_DANDISET_RE = re.compile(
    rf"(?P<api>.*?/api)/dandisets/(?P<dandiset>{_DANDISET})(?:/versions(?:/(?P<version>{_VERSION}))?)?/?")
_API_PATH_RE = re.compile(
    rf"(?P<api>.*?/api)/dandisets/(?P<dandiset>{_DANDISET})/versions/(?P<version>{_VERSION})/assets/?")
_WEB_DANDISET_RE = re.compile(
    rf"[^/]*//[^/]+/dandiset/(?P<dandiset>{_DANDISET})(?:/(?P<version>{_VERSION}))?(?:/files)?/?")
_WEB_HOSTS_TO_API = {
    "dandiarchive.org": "https://api.dandiarchive.org/api",
    "www.dandiarchive.org": "https://api.dandiarchive.org/api",
    "gui.dandiarchive.org": "https://api.dandiarchive.org/api",
    "sandbox.dandiarchive.org": "https://api.sandbox.dandiarchive.org/api",
}


@dataclass(frozen=True)
class SourceSpec:
    """What one source string names, before anything is looked up."""

    text: str
    """The string as the user wrote it."""
    kind: SpecKind
    path: str | None = None
    """Local file, folder or glob (kinds ``file``/``folder``/``glob``); or the asset path, folder (ending in ``/``) or
    glob (containing ``*``) inside a dandiset (kind ``dandiset``)."""
    dandiset: str | None = None
    version: str | None = None
    asset_id: str | None = None
    api_url: str | None = None
    """The DANDI API the source names explicitly (from a URL); ``None`` means the configured default."""
    url: str | None = None
    """The https URL of a plain remote NWB file (kind ``url``)."""


@dataclass(frozen=True)
class ResolvedSource:
    """One NWB file to open: a local path, a DANDI asset or a plain URL."""

    kind: Literal["local", "dandi", "url"]
    info: SourceInfo
    """Where it comes from; ``info.identifier`` stays empty until the file is opened."""
    size: int | None = None
    """Bytes, when known without opening (DANDI assets, local files)."""
    api_url: str | None = None
    """DANDI API the asset lives in (kind ``dandi``)."""
    relative: str | None = None
    """Path below the folder (or the fixed start of the glob) that a local file was found in."""

    @property
    def relative_path(self) -> str:
        """Where the file sits in what the user named: below the folder or glob start, the asset path in its dandiset,
        or the file name; an output folder keeps this layout."""
        return self.relative or self.info.asset_path or Path(urlsplit(self.location).path).name

    @property
    def location(self) -> str:
        """Local path, DANDI download URL or URL."""
        return self.info.location

    @property
    def is_local(self) -> bool:
        """True for a file on this machine (``SourceInfo.is_local``, the one answer to "is it local?")."""
        return self.info.is_local

    def label(self) -> str:
        """Short name for messages, e.g. ``DANDI:000021/sub-1/sub-1.nwb``."""
        return self.info.label()


def is_nwb_path(path: str) -> bool:
    """True for a name ending in ``.nwb`` (case-insensitive); Zarr-backed ``.nwb.zarr`` folders do not count."""
    return path.lower().endswith(".nwb")


def parse_source(text: str | Path) -> SourceSpec:
    """Classify one source string: no network, and on disk only "does it exist, and is it a folder?". A path that
    exists is taken as it is written (``ses 1 [rerun].nwb`` is that file); only a string naming nothing is read as a
    glob when it holds ``*``, ``?`` or ``[``; a ``pathlib.Path`` is never a glob. Raises ``NeurPIRError`` when a
    DANDI identifier or URL is malformed."""
    if isinstance(text, Path):
        return _local_spec(str(text), text, may_glob=False)
    stripped = text.strip()
    if not stripped:
        raise NeurPIRError(f"empty source; expected {SOURCE_FORMS}", source=repr(text))
    if _UUID_RE.fullmatch(stripped):
        return SourceSpec(text=text, kind="dandi_asset", asset_id=stripped.lower())
    if stripped.lower().startswith("dandi://"):
        return _parse_dandi_url(text, stripped)
    if _DANDI_PREFIX_RE.match(stripped):
        return _parse_dandi_id(text, stripped)
    scheme = urlsplit(stripped).scheme.lower() if "://" in stripped else ""
    if scheme in ("http", "https"):
        return _parse_http_url(text, stripped)
    if scheme == "s3":
        return _parse_s3_url(text, stripped)
    if scheme:
        raise NeurPIRError(f"unsupported URL scheme {scheme!r}; expected {SOURCE_FORMS}", source=text)
    return _local_spec(text, Path(stripped).expanduser())


def _local_spec(text: str, path: Path, may_glob: bool = True) -> SourceSpec:
    """A file or folder when ``path`` exists (as ``cp`` takes it), else a glob when it may be one and has wildcards."""
    if may_glob and not path.exists() and any(char in str(path) for char in "*?["):
        return SourceSpec(text=text, kind="glob", path=str(path))
    return SourceSpec(text=text, kind="folder" if path.is_dir() else "file", path=str(path))


def _parse_dandi_id(text: str, stripped: str) -> SourceSpec:
    match = _DANDI_ID_RE.fullmatch(stripped)
    dandiset = match.group("dandiset") if match else ""
    if not re.fullmatch(_DANDISET, dandiset):
        raise NeurPIRError(f"a dandiset ID is six digits, e.g. DANDI:000021; got {dandiset!r}", source=text)
    rest = (match.group("rest") or "").lstrip("/")
    head, _, tail = rest.partition("/")
    if _VERSION_RE.fullmatch(head):
        return _dandiset_spec(text, dandiset, head, tail, api_url=None)
    return _dandiset_spec(text, dandiset, None, rest, api_url=None)


def _parse_dandi_url(text: str, stripped: str) -> SourceSpec:
    """``dandi://<instance>/<dandiset>[@<version>][/<path>]``, the form ``dandi ls`` prints; the instance is one the
    ``dandi`` client knows (``DANDI``, ``dandi-sandbox``, ``LINC``...)."""
    match = _DANDI_URL_RE.fullmatch(stripped)
    if match is None:
        raise NeurPIRError("a dandi:// URL reads dandi://<instance>/<six-digit dandiset>[@<version>][/<path>]",
                           source=text)
    return _dandiset_spec(text, match.group("dandiset"), match.group("version"), match.group("rest") or "",
                          api_url=_instance_api_url(match.group("instance"), text))


def _instance_api_url(instance: str, text: str) -> str | None:
    """The API URL of a DANDI instance the ``dandi`` client knows (no network); ``None`` for the main archive, so
    ``NEURPIR_DANDI_API_URL`` still overrides it."""
    from dandi.consts import known_instances

    names = {name.lower(): name for name in known_instances}
    name = names.get(instance.lower())
    if name is None:
        raise NeurPIRError(f"unknown DANDI instance {instance!r} in a dandi:// URL; known: "
                           f"{', '.join(sorted(known_instances))}", source=text)
    return None if name == "dandi" else known_instances[name].api.rstrip("/")


def _dandiset_spec(text: str, dandiset: str, version: str | None, path: str, api_url: str | None) -> SourceSpec:
    path = path.lstrip("/")
    if path:
        _check_asset_path(path, text)
    if path and not path.endswith("/") and "*" not in path and _UUID_RE.fullmatch(path):
        return SourceSpec(text=text, kind="dandi_asset", dandiset=dandiset, version=version,
                          asset_id=path.lower(), api_url=api_url)
    return SourceSpec(text=text, kind="dandiset", dandiset=dandiset, version=version, path=path or None,
                      api_url=api_url)


def _check_asset_path(path: str, text: str) -> None:
    parts = path.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts) or "\\" in path or "\x00" in path:
        raise NeurPIRError(f"asset path {path!r} must be a plain relative path (no '..', '.', '//' or '\\')",
                           source=text)


def _parse_http_url(text: str, url: str) -> SourceSpec:
    parts = urlsplit(url)
    if not parts.hostname:
        raise NeurPIRError("URL has no host", source=text)
    site = f"{parts.scheme.lower()}://{parts.netloc}"
    base = site + parts.path
    query = parse_qs(parts.query)
    if match := _API_VERSION_ASSET_RE.fullmatch(base):
        return SourceSpec(text=text, kind="dandi_asset", dandiset=match["dandiset"], version=match["version"],
                          asset_id=match["asset"].lower(), api_url=match["api"])
    if match := _API_ASSET_RE.fullmatch(base):
        return SourceSpec(text=text, kind="dandi_asset", asset_id=match["asset"].lower(), api_url=match["api"])
    if (match := _API_PATH_RE.fullmatch(base)) and ("path" in query or "glob" in query):
        path = (query.get("path") or query["glob"])[0]
        return _dandiset_spec(text, match["dandiset"], match["version"], path, api_url=match["api"])
    if match := _API_DANDISET_RE.fullmatch(base):
        return _dandiset_spec(text, match["dandiset"], match["version"], "", api_url=match["api"])
    if parts.fragment.startswith("/dandiset/"):  # the old web UI: https://gui.dandiarchive.org/#/dandiset/...
        fragment = urlsplit(parts.fragment)
        base, query = site + fragment.path, parse_qs(fragment.query)
    if match := _WEB_DANDISET_RE.fullmatch(base):
        location = query.get("location", [""])[0].strip("/")
        return _dandiset_spec(text, match["dandiset"], match["version"], location + "/" if location else "",
                              api_url=_WEB_HOSTS_TO_API.get(parts.hostname.lower()))
    if "/api/" in parts.path and ("/assets/" in parts.path or "/dandisets/" in parts.path):
        raise NeurPIRError("looks like a DANDI API URL but is not one of the known forms "
                           "(/api/assets/<id>/download/ or /api/dandisets/<d>/versions/<v>/assets/<id>/)",
                           source=text)
    return SourceSpec(text=text, kind="url", url=url)


def _parse_s3_url(text: str, url: str) -> SourceSpec:
    parts = urlsplit(url)
    if not parts.netloc or not parts.path.strip("/"):
        raise NeurPIRError("an s3:// URL needs a bucket and a key, e.g. s3://bucket/path/file.nwb", source=text)
    https = f"https://{parts.netloc}.s3.amazonaws.com/{parts.path.lstrip('/')}"
    return SourceSpec(text=text, kind="url", url=https)
