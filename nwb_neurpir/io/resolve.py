"""``resolve_sources``: expand sources into the single NWB files they name, asking the filesystem for folders and
globs and the DANDI API (through a ``DataAccess``) for dandisets, paths and asset IDs.

``--glob`` filters what a folder or a dandiset expands to: it is matched against the path relative to the folder (or
the asset path below the dandiset folder), and ``*`` matches across ``/`` in both (as the DANDI API does).

A folder is searched as ``dandi`` searches one: recursively, into folders reached through symbolic links (each real
folder once, by its path without links when it has one, so a link loop or two links to one folder add nothing), and
skipping files and folders whose name starts with a dot (``.snapshot``, ``.Trash-1000``, ``.git``...).
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.sources import SOURCE_FORMS, ResolvedSource, SourceSpec, is_nwb_path, parse_source
from nwb_neurpir.recording import SourceInfo

if TYPE_CHECKING:
    from nwb_neurpir.io.access import DataAccess

__all__ = ["resolve_each", "resolve_sources"]


def resolve_sources(
    sources: Iterable[str | Path | SourceSpec | ResolvedSource],
    glob: str | None = None,
    *,
    access: DataAccess | None = None,
) -> list[ResolvedSource]:
    """Expand sources into single NWB files, in the order given (folders and dandisets sorted by path).

    ``glob`` filters folders and dandisets (not single files). ``access`` (default: ``DataAccess()``, configured from
    the environment) says which DANDI API a source that names none lives in and which cache lets known asset IDs
    resolve without the network, and shares its DANDI clients. Already resolved sources pass through. Raises
    ``NeurPIRError`` when a source is malformed or matches nothing.
    """
    items = list(sources)
    if not items:
        raise NeurPIRError(f"no sources given; expected {SOURCE_FORMS}")
    resolved: list[ResolvedSource] = []
    for item in items:
        spec = item if isinstance(item, (SourceSpec, ResolvedSource)) else parse_source(item)
        if isinstance(spec, ResolvedSource):
            resolved.append(spec)
        elif spec.kind in ("file", "folder", "glob"):
            resolved.extend(_resolve_local(spec, glob))
        elif spec.kind == "url":
            resolved.append(ResolvedSource(kind="url", info=SourceInfo(location=spec.url or spec.text)))
        else:
            from nwb_neurpir.io.access import access_or_default

            access = access_or_default(access)
            resolved.extend(access.resolver(spec.api_url).resolve(spec, glob))
    return resolved


def resolve_each(
    sources: Iterable[str | Path],
    glob: str | None = None,
    *,
    access: DataAccess | None = None,
) -> tuple[list[ResolvedSource], list[tuple[str, NeurPIRError]]]:
    """Resolve every source on its own, so that one which fails does not stop the others: the files found, in
    order, and each failing source (as given) with its error."""
    resolved: list[ResolvedSource] = []
    failures: list[tuple[str, NeurPIRError]] = []
    for item in sources:
        try:
            resolved.extend(resolve_sources([item], glob, access=access))
        except NeurPIRError as error:
            failures.append((str(item), error))
    return resolved, failures


def _resolve_local(spec: SourceSpec, glob: str | None) -> list[ResolvedSource]:
    path = Path(spec.path or spec.text)
    if spec.kind == "file":
        if not path.exists():
            raise NeurPIRError(f"no such file or folder (expected {SOURCE_FORMS})", source=spec.text)
        return [_local(path)]
    if spec.kind == "folder":
        base = path
        files = _nwb_files_below(path)
        if glob:
            files = [p for p in files if fnmatchcase(p.relative_to(path).as_posix(), glob)]
        where = f"matching --glob {glob!r}" if glob else "(searched recursively for *.nwb)"
    else:
        base = _glob_base(path)
        files = sorted(Path(p) for p in globlib.glob(str(path), recursive=True)
                       if Path(p).is_file() and is_nwb_path(p))
        where = "(a glob matches .nwb files only)"
    if not files:
        raise NeurPIRError(f"no NWB files found {where}", source=spec.text)
    return [_local(p, p.relative_to(base).as_posix()) for p in files]


def _nwb_files_below(folder: Path) -> list[Path]:
    """The ``*.nwb`` files below ``folder``, sorted by path: into linked folders, each real folder once (the path
    without links first), hidden files and folders (names starting with a dot) left out."""
    seen: set[str] = set()
    files: list[Path] = []
    tops = [folder]
    while tops:
        top = tops.pop(0)
        for root, folders, names in os.walk(top):  # not into links: they wait until every plain path was walked
            if os.path.realpath(root) in seen:
                folders.clear()
                continue
            seen.add(os.path.realpath(root))
            visible = sorted(name for name in folders if not name.startswith("."))
            tops.extend(Path(root, name) for name in visible if os.path.islink(os.path.join(root, name)))
            folders[:] = [name for name in visible if not os.path.islink(os.path.join(root, name))]
            files.extend(Path(root, name) for name in names
                         if not name.startswith(".") and is_nwb_path(name) and os.path.isfile(os.path.join(root, name)))
    return sorted(files)


def _glob_base(pattern: Path) -> Path:
    """The folder a glob starts from: its leading parts without wildcards."""
    fixed = []
    for part in pattern.parts:
        if any(char in part for char in "*?["):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path()


def _local(path: Path, relative: str | None = None) -> ResolvedSource:
    return ResolvedSource(kind="local", info=SourceInfo(location=str(path)), size=path.stat().st_size,
                          relative=relative)
