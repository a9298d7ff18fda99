"""CPU-bound batch work on two cores: half in a forked child, half in this process, at the same time.

Threads cannot do it (parsing Dockerfiles and rendering YAML hold the GIL), and a process pool would pickle
every input: a forked child already has them. Only the child's result crosses back, pickled through a pipe.
Whatever goes wrong in the child (an exception, a crash, a result that cannot be pickled) is not an error:
this process then does the child's share itself, so the outcome is always the one sequential work gives.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_SHARE = 200
"""Below this many items per share a fork costs more than it saves."""


def can_fork() -> bool:
    return hasattr(os, "fork") and (os.cpu_count() or 1) > 1 and not os.environ.get("IMAGE_FACTORY_NO_FORK")


def on_two_cores(mine: T, theirs: T, work: Callable[[T], R], size: Callable[[T], int]) -> tuple[R, R]:
    """`(work(mine), work(theirs))`, `theirs` done by a forked child while this process does `mine`.

    Sequential when forking is not possible or not worth it (either share's `size` below `MIN_SHARE`).
    `work` must not write shared state that this process relies on afterwards: the child's side effects
    stay in the child (files it writes are the exception, and are the caller's business).
    """
    if size(theirs) < MIN_SHARE or size(mine) < MIN_SHARE or not can_fork():
        return work(mine), work(theirs)
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
        status = 0
        try:
            os.close(read_fd)
            payload = pickle.dumps(work(theirs), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        own = work(mine)
    finally:
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, wait_status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(wait_status) == 0:
        try:
            return own, pickle.loads(payload)
        except Exception:
            pass
    return own, work(theirs)
