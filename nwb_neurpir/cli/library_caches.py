"""Cache folders for the libraries the commands import, on machines whose home folder cannot be written (compute
nodes, ``HOME`` unset or read-only).

pynwb creates ``$XDG_CACHE_HOME/pynwb-hdmf`` (default ``~/.cache``) when it is imported and fails without it, numba's
cached functions (UMAP's, the simulator's) need a cache folder, and matplotlib warns. Before any of them is imported,
the CLI points the variables the user has not set at a private folder in the temporary folder, and says so once.
This module imports nothing heavy, so ``neurpir --help`` stays fast.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["CACHE_VARIABLES", "use_private_caches_if_needed"]

CACHE_VARIABLES = {"XDG_CACHE_HOME": "", "NUMBA_CACHE_DIR": "numba", "MPLCONFIGDIR": "matplotlib"}
"""The variables that move the libraries' caches, and the subfolder each gets in the private folder."""


def user_cache_folder() -> Path:
    """The cache folder the libraries use: ``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))


def can_write(folder: Path) -> bool:
    """True when ``folder`` is a folder this process may write into, or could create (its nearest existing parent
    is one); False for a relative path (``~`` without a home folder)."""
    if not folder.is_absolute():
        return False
    existing = folder
    while not os.path.lexists(existing):
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def private_folder() -> Path:
    """``neurpir-cache-<uid>`` in the temporary folder, mode 0700, reused by later runs; a fresh one when that name
    is taken by something other than a folder of this user that only this user can open (pynwb loads a pickle from
    its cache, so no one else may write there)."""
    folder = Path(tempfile.gettempdir()) / f"neurpir-cache-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)  # whatever the umask
    except FileExistsError:
        pass
    found = folder.lstat()
    if stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid() and stat.S_IMODE(found.st_mode) == 0o700:
        return folder
    return Path(tempfile.mkdtemp(prefix=f"neurpir-cache-{os.getuid()}-"))


def use_private_caches_if_needed() -> str | None:
    """When the user cache folder cannot be written, set the ``CACHE_VARIABLES`` the user has not set to a
    ``private_folder()``; the warning that says so (None when nothing was changed)."""
    cache = user_cache_folder()
    unset = [name for name in CACHE_VARIABLES if not os.environ.get(name)]
    if not unset or can_write(cache):
        return None
    try:
        folder = private_folder()
    except OSError as error:
        return f"cannot write the cache folder {cache}, nor a temporary one ({error.strerror}); set XDG_CACHE_HOME " \
               "to a writable folder"
    for name in unset:
        os.environ[name] = str(folder / CACHE_VARIABLES[name])
    return f"cannot write the cache folder {cache}: this run caches in {folder} ({', '.join(unset)}); set " \
           "XDG_CACHE_HOME to a writable folder to keep a cache"
