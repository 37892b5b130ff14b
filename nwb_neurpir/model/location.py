"""Where a model is read from: a local folder. A URL, a zip archive or a missing path is named as such, with what to
do instead, before anything is read."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.redaction import redact_url

__all__ = ["model_folder"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def model_folder(given: str | os.PathLike[str]) -> Path:
    """The local folder ``given`` names; a URL, a zip archive, a path that does not exist or a file that is no
    folder is a one-line ``NeurPIRError`` saying so (a URL as it was given, without its credentials)."""
    text = os.fspath(given)
    if _URL.match(text):
        raise NeurPIRError("models are read from local folders, not URLs: download the model folder (unzip it if it "
                           "is an archive) and give its path", redact_url(text))
    path = Path(text)
    if not path.exists():
        raise NeurPIRError("model folder not found", path)
    if path.is_file() and zipfile.is_zipfile(path):
        raise NeurPIRError(f"is a zip archive, not a model folder: unzip it first (unzip {path.name} -d DIR) and give "
                           "the folder that holds manifest.json", path)
    if not path.is_dir():
        raise NeurPIRError("is a file, not a model folder written by `neurpir train` or `neurpir export`", path)
    return path
