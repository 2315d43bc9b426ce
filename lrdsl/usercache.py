"""The per-user cache folder: files that make the next process start faster (parse tables, the
note that no plugin is installed). Everything in it can be deleted at any time; nothing fails
when the folder cannot be made, read or written."""

from __future__ import annotations

import contextlib
import os
from typing import Optional


def cache_folder() -> Optional[str]:
    """``$LRDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/lrdsl``, else ``~/.cache/lrdsl``, made if missing;
    None when it cannot be made."""
    folder = os.environ.get("LRDSL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lrdsl"
    )
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder


def read_text(name: str) -> Optional[str]:
    """The text of the cache file ``name``, or None when it is missing or unreadable."""
    folder = cache_folder()
    try:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:  # type: ignore[arg-type]
            return handle.read()
    except (OSError, TypeError, ValueError):
        return None


def write_text(name: str, text: str) -> None:
    """Replace the cache file ``name`` by ``text`` atomically (a reader sees the old or the new file);
    a folder that cannot be written is no error."""
    folder = cache_folder()
    if folder is None:
        return
    path = os.path.join(folder, name)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)
