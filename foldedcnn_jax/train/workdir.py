"""A workdir belongs to one live run: an OS lock on `<workdir>/run.lock`, held for the whole run.

The lock is `flock`'s, which the operating system drops with its process, kill -9 included, so a
killed run's workdir resumes at once: there is no stale file to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

import jax
import numpy as np

from foldedcnn_jax.train import config as config_lib

LOCK_FILE = "run.lock"


@contextlib.contextmanager
def owned(workdir: str) -> Iterator[None]:
  """Holds `workdir` for the run inside; raises ConfigError while another live run holds it.

  In a multi-process run process 0 holds the lock and tells the others, so every process of a
  refused run stops with the same error instead of waiting on a process 0 that has left.
  """
  lock, holder = _acquire(workdir) if jax.process_index() == 0 else (None, "")
  refused = jax.process_index() == 0 and lock is None
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils

    refused = bool(multihost_utils.broadcast_one_to_all(np.int32(refused)))
  if refused:
    raise config_lib.ConfigError(
        f"workdir {workdir} is in use by a run that is still alive{holder}; wait for it to "
        "end, stop it, or pass another --config.workdir")
  try:
    yield
  finally:
    if lock is not None:
      lock.close()  # closing the file releases the lock


def _acquire(workdir: str):
  """(the open lock file, "") when this process now holds the lock, else (None, " (pid N)")."""
  os.makedirs(workdir, exist_ok=True)
  lock = open(os.path.join(workdir, LOCK_FILE), "a+")  # held until the run ends
  try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    lock.seek(0)
    pid = lock.read().strip()
    lock.close()
    return None, f" (pid {pid})" if pid.isdigit() else ""
  lock.truncate(0)
  lock.write(f"{os.getpid()}\n")
  lock.flush()
  return lock, ""
