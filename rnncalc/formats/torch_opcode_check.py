"""The opcode check a ``torch.save`` file's pickle passes before
:mod:`.torch_unpickler` reads it (see :func:`_check_opcodes`).
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass

from .torch_unpickler import _ADMITTED, _refuse_global, _Refused

#: Each opcode makes at most one object, so this bounds the objects a pickle can make; it
#: admits some 130,000 tensors.
MAX_OPCODES = 4_000_000
#: Nesting of the pickled objects (a state_dict's is 5, a training checkpoint's with an
#: optimizer's state 8, as :func:`_check_opcodes` counts).
MAX_DEPTH = 100

#: The opcodes that make objects of a class or from the extension registry, or read
#: out-of-band buffers: torch.save writes none of them for tensors and plain containers.
_REFUSED_OPCODES = frozenset(
    {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER",
     "READONLY_BUFFER", "PERSID"}
)  # fmt: skip
#: Opcodes that change the container below their arguments rather than make a new object.
_IN_PLACE = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})


@dataclass(frozen=True)
class _Opcode:
    """What :func:`_check_opcodes` needs of an opcode (from ``pickletools.opcodes``): its
    argument's length (or, negative, how the length is given), its role, and its effect on
    the stack: the objects it pops (above the last MARK, if it takes one) and pushes.
    """

    name: str
    length: int
    role: str
    pops: int = 0
    to_mark: bool = False
    pushes: int = 0


def _opcodes() -> dict[int, _Opcode]:
    roles = {"MARK": "mark", "MEMOIZE": "memoize", "STOP": "stop", "GLOBAL": "global"}
    roles.update(dict.fromkeys(_MEMO_PUT, "put") | dict.fromkeys(_MEMO_GET, "get"))
    roles.update(dict.fromkeys(_REFUSED_OPCODES, "refused"))
    table = {}
    for op in pickletools.opcodes:
        before = [kind for kind in op.stack_before if kind is not pickletools.stackslice]
        to_mark = pickletools.markobject in before
        pops, pushes = len(before) - to_mark, len(op.stack_after)
        role = roles.get(op.name, "push" if (pops, to_mark, pushes) == (0, False, 1) else "stack")
        length = op.arg.n if op.arg is not None else 0
        table[ord(op.code)] = _Opcode(op.name, length, role, pops, to_mark, pushes)
    return table


_OPCODES = _opcodes()
#: Bytes, and signedness, of the length before a counted argument (pickletools' codes).
_COUNTED = {
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}


def _check_opcodes(data: bytes) -> None:
    """Refuse a pickle before the C unpickler sees it: opcodes a checkpoint does not need,
    globals not admitted, more than :data:`MAX_OPCODES` opcodes (each makes at most one
    object), memo indices beyond the number of opcodes (the C unpickler would allocate a memo
    that large), nesting deeper than :data:`MAX_DEPTH` (hashing a deep tuple recurses in C),
    bytes after STOP.

    The nesting is followed on a model of the stack that holds each object's depth: one more
    than the deepest object it was made from; a container filled in place keeps its own.
    """
    stack: list[int] = []
    marks: list[int] = []  # where each MARK stands in the stack
    memo: dict[int, int] = {}
    position = 0
    for count in range(MAX_OPCODES):
        op = _OPCODES.get(data[position]) if position < len(data) else None
        if op is None:
            found = f"unknown opcode {data[position]:#04x}" if position < len(data) else "its end"
            raise ValueError(f"{found} at byte {position}, before STOP")
        at, start = position, position + 1
        position = start + op.length if op.length >= 0 else _argument_end(data, start, op)
        if position > len(data):
            raise ValueError(f"it ends inside an argument of {op.name}")
        if op.role == "push":
            stack.append(0)
        elif op.role == "mark":
            marks.append(len(stack))
        elif op.role in ("put", "memoize", "get"):
            _memo(op, data[start:position], stack, marks, memo, count, at)
        else:
            if op.role in ("global", "refused"):
                _check_opcode(op.name, data[start:position])
            _apply(stack, marks, op, at)
            if op.role == "stop":
                if position != len(data):
                    raise ValueError(f"{len(data) - position} bytes after the pickle's end")
                return
    raise _Refused(f"holds more than {MAX_OPCODES:,} pickle opcodes")


def _argument_end(data: bytes, start: int, op: _Opcode) -> int:
    """Where an argument of variable length ends: after its newline (two, for GLOBAL and
    INST), or after the length it starts with and that many bytes.
    """
    if op.length == pickletools.UP_TO_NEWLINE:
        end = data.index(b"\n", start) + 1  # ValueError when there is none
        return data.index(b"\n", end) + 1 if op.name in ("GLOBAL", "INST") else end
    width, signed = _COUNTED[op.length]
    size = int.from_bytes(data[start : start + width], "little", signed=signed)
    if size < 0:
        raise ValueError(f"{op.name} declares {size} bytes")
    return start + width + size


def _check_opcode(name: str, argument: bytes) -> None:
    """Refuse a global that is not admitted (GLOBAL, INST), and the refused opcodes."""
    if name in ("GLOBAL", "INST"):
        module, attribute, _ = argument.decode("utf-8").split("\n")
        if f"{module}.{attribute}" not in _ADMITTED:
            raise _refuse_global(module, attribute)
    if name in _REFUSED_OPCODES:
        raise _Refused(f"uses the pickle opcode {name}, which a checkpoint does not need")


def _memo(
    op: _Opcode,
    argument: bytes,
    stack: list[int],
    marks: list[int],
    memo: dict[int, int],
    count: int,
    at: int,
) -> None:
    """Remember the top of the stack (PUT, MEMOIZE) or recall a memo entry (GET).  Indices
    are a decimal line (PUT, GET) or a little-endian unsigned integer.
    """
    if op.role == "memoize":
        index = len(memo)
    elif op.length == pickletools.UP_TO_NEWLINE:
        index = int(argument)
    else:
        index = int.from_bytes(argument, "little")
    if op.role == "get":
        if index not in memo:
            raise ValueError(f"no memo entry {index} at byte {at}")
        stack.append(memo[index])
        return
    if index > count or len(stack) <= (marks[-1] if marks else 0):
        raise ValueError(f"memo index {index} out of range at byte {at}")
    memo[index] = stack[-1]


def _apply(stack: list[int], marks: list[int], op: _Opcode, at: int) -> None:
    """Pop what ``op`` takes and push what it makes, each with its depth."""
    popped: list[int] = []
    if op.to_mark:
        if not marks:
            raise ValueError(f"{op.name} without a MARK at byte {at}")
        popped = stack[marks[-1] :]
        del stack[marks.pop() :]
    if len(stack) - (marks[-1] if marks else 0) < op.pops:
        raise ValueError(f"{op.name} on too short a stack at byte {at}")
    if op.pops:
        popped = stack[-op.pops :] + popped
        del stack[-op.pops :]
    if op.name in _IN_PLACE:
        depth = max(popped[0], 1 + max(popped[1:], default=0))
    else:
        depth = 1 + max(popped, default=-1)
    if depth > MAX_DEPTH:
        raise _Refused(f"nests objects more than {MAX_DEPTH} deep")
    stack.extend([depth] * op.pushes)
