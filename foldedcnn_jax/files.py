"""Writing files so that a crash or a bad input never leaves one half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary sibling of `path` to write; renames it onto `path` only on success.

  The folder is created if needed; on an exception the temporary file is removed and `path`
  keeps what it held. The result gets an ordinary file's permissions (0666 less the umask),
  not mkstemp's 0600.
  """
  directory, name = os.path.split(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  suffix = os.path.splitext(name)[1]
  handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=f".tmp{suffix}")
  os.close(handle)
  try:
    yield temporary
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)
