"""How the threads of one compiled direction wait for each other, step by step.

A step's recurrent product needs the whole previous state, and each thread computes some
of its units (:mod:`.compiled`), so every thread waits at a :func:`barrier` after each step
until all have written theirs.  Waiting a few microseconds through the operating system
would cost as much as the step, so a thread spins on an atomic counter per thread (each on
its own cache line), and gives its core away (``sched_yield``) only after spinning long,
when there are fewer cores than threads.  A raised flag (:func:`abort`) frees every waiting
thread, so that one thread's interruption cannot leave another spinning forever.  This
module imports numba.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import llvmlite.binding
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .kernel_math import _inline
from .types import Array

#: int64 slots between two threads' counters: 128 bytes, two cache lines.
LINE = 16
#: Spins before a waiting thread yields its core at each further try.
SPINS = 4000


def _yield_address() -> int:
    """The address of a function that yields the core: sched_yield, or on Windows
    SwitchToThread; both take nothing and return an int.
    """
    if sys.platform == "win32":
        function = ctypes.WinDLL("kernel32").SwitchToThread  # type: ignore[attr-defined]
    else:
        function = ctypes.CDLL(None).sched_yield
    address = ctypes.cast(function, ctypes.c_void_p).value
    assert address is not None
    return address


llvmlite.binding.add_symbol("rnncalc_yield", _yield_address())
_yield = types.ExternalFunction("rnncalc_yield", types.int32())


def _item_pointer(context: Any, builder: Any, kind: Any, array: Any, index: Any) -> Any:
    """The address of ``array[index]`` in generated code."""
    view = context.make_array(kind)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, kind, view, [index])  # type: ignore[no-untyped-call]


def _load_typed(typingctx: Any, array: Any, index: Any) -> Any:
    """array[index] read with acquire order: what other threads wrote before their release
    store of it is visible after.
    """

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        pointer = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(array, index), codegen


def _store_typed(typingctx: Any, array: Any, index: Any, value: Any) -> Any:
    """array[index] = value with release order: what this thread wrote before is visible
    to a thread that reads the value.
    """

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        pointer = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        number = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(number, pointer, "release", 8)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


_load: Any = intrinsic(_load_typed)
_store: Any = intrinsic(_store_typed)


def counters(parties: int) -> Array:
    """The counters of ``parties`` threads, and after them the abort flag, all zero."""
    return np.zeros((parties + 1) * LINE, np.int64)


def abort(flags: Array) -> None:
    """Raise the abort flag: threads waiting at a barrier on ``flags``, or arriving at one,
    return False from it.
    """
    flags[-LINE] = 1


@_inline
def barrier(flags: Array, me: int, parties: int) -> bool:
    """Wait until all ``parties`` threads have passed as many barriers as thread ``me``
    has, this one included; False when the abort flag is up.
    """
    count = _load(flags, me * LINE) + 1
    _store(flags, me * LINE, count)
    stop = parties * LINE
    for other in range(parties):
        spins = 0
        while _load(flags, other * LINE) < count:
            if _load(flags, stop) != 0:
                return False
            spins += 1
            if spins > SPINS:
                _yield()
    return bool(_load(flags, stop) == 0)
