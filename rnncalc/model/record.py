"""Immutable records: the base of the model's value types.

What :func:`dataclasses.dataclass` would give (equality, hashing, a repr, ``replace``, a
dict), read off ``__slots__`` instead of generated with ``exec``: building one dataclass
costs about two milliseconds at import on a slow machine, and these classes load at every
start of ``rnncalc params --format json``, which runs in shell loops.  A subclass names its
fields in order in ``FIELDS``, makes them its ``__slots__`` and sets them in ``__init__``
with :meth:`Record._set`.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="Record")


class Record:
    """A value: fields fixed at construction, compared and hashed by type and fields."""

    __slots__: tuple[str, ...] = ()
    #: The fields, in order (``__slots__`` is the same names; linters sort slots).
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: use .replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.as_dict()))

    def replace(self: R, **changes: Any) -> R:
        """A copy with ``changes`` applied, validated again by the constructor."""
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in order (nested records stay records)."""
        return {name: getattr(self, name) for name in self.FIELDS}


def _rebuild(cls: type[R], values: dict[str, Any]) -> R:
    return cls(**values)
