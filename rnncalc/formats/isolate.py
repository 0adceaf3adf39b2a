"""Run a reader in a child process, so that a C library's crash on a hostile file is an
error message and not the end of rnncalc.

The HDF5 library can be made to crash (a segmentation fault, found by fuzzing Keras ``.h5``
files) by a damaged file, and no Python code can catch that.  :func:`isolated` forks,
runs the reader in the child, and sends back its result or its :class:`FormatError`; a
child that dies instead becomes a FormatError naming the file.  A fork costs a few
milliseconds; the readers it wraps read metadata or one tensor.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from .tensors import FormatError

T = TypeVar("T")


def isolated(path: str, what: str, reader: Callable[..., T], *args: Any) -> T:
    """``reader(*args)`` run in a forked child; its FormatError is raised here, and a crash
    of the child becomes ``FormatError("PATH: the WHAT library crashed reading it ...")``.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(send, reader, args), daemon=True)
    child.start()
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError:  # the child died before it could answer
        child.join()
        raise FormatError(
            f"{path}: a damaged file: the {what} library crashed reading it "
            f"(exit status {child.exitcode})"
        ) from None
    finally:
        receive.close()
    child.join()
    if ok:
        return value  # type: ignore[no-any-return]
    raise FormatError(value)


def _run(send: Connection, reader: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        answer: tuple[bool, Any] = (True, reader(*args))
    except FormatError as error:
        answer = (False, str(error))
    except Exception as error:  # a library's surprise: still one line, not a traceback
        answer = (
            False,
            f"{args[0] if args else ''}: cannot read it: {type(error).__name__}: {error}",
        )
    try:
        send.send(answer)
    except (pickle.PicklingError, TypeError) as error:  # not expected: our results are data
        send.send((False, f"cannot hand back the result: {error}"))
    send.close()
