"""forward --save: a regular file or a new name, checked before the run, written whole or
not at all, with the mode any new file gets (rnncalc/savefile.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from hostile import invoke

from rnncalc.engine import run as forward
from rnncalc.formats.save import SaveError, reserve


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def save(target: Path | str, *args: str) -> tuple[int | None, str]:
    outcome = invoke("forward", "--save", str(target), *args)
    outcome.check()
    return outcome.status, outcome.stderr


def test_saves_the_run(tmp_path: Path) -> None:
    status, _ = save(tmp_path / "out.npz")
    assert status == 0
    with np.load(tmp_path / "out.npz") as saved:
        assert set(saved.files) == {"W_xh", "W_hh", "b_h", "W_yh", "b_y", "x", "h", "y"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.symlink_to(p.parent / "elsewhere.npz"), "is a symbolic link"),
        (lambda p: p.symlink_to(p), "is a symbolic link"),
        (lambda p: p.mkdir(), "is a directory"),
        (os.mkfifo, "is a FIFO"),
    ],
)
def test_only_a_regular_file_or_a_new_name_is_replaced(
    tmp_path: Path, make: object, message: str
) -> None:
    target = tmp_path / "out.npz"
    make(target)  # type: ignore[operator]
    status, stderr = save(target)
    assert status == 2
    assert message in stderr
    assert not (tmp_path / "elsewhere.npz").exists()


def test_a_device_is_never_replaced() -> None:
    status, stderr = save("/dev/null")
    assert status == 2
    assert "/dev/null is a character device: give a regular file or a new name" in stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("missing", "the folder {root}/missing does not exist"),
        ("loop", "too many levels of symbolic links"),
        ("file.txt", "is not a folder"),
    ],
)
def test_a_folder_that_cannot_hold_it_is_refused(tmp_path: Path, folder: str, message: str) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file.txt").write_text("")
    status, stderr = save(tmp_path / folder / "out.npz")
    assert status == 2
    assert message.format(root=tmp_path) in stderr


def test_the_target_is_checked_before_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run started")

    monkeypatch.setattr(forward, "run", never)
    # /proc takes no new files, even from root: the reservation fails at once.
    status, stderr = save("/proc/out.npz", "--check")
    assert status == 2
    assert "/proc/out.npz: cannot write in the folder /proc" in stderr


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_umask_mode(tmp_path: Path, mask: int, mode: int) -> None:
    previous = os.umask(mask)
    try:
        assert save(tmp_path / "out.npz")[0] == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "out.npz").st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert save(target)[0] == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert target.read_bytes() != b"old"


def test_the_longest_file_name_works(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 251 + ".npz")  # 255 characters, the most a name may have
    assert save(target)[0] == 0
    assert target.exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.npz"
    target.write_bytes(b"previous")

    def broken(handle: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"), reserve(target) as reservation:
        reservation.commit(broken)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_a_target_that_turns_into_a_link_during_the_run_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.npz"

    def write(handle: BinaryIO) -> None:
        handle.write(b"data")

    with reserve(target) as reservation:
        target.symlink_to(tmp_path / "elsewhere")
        with pytest.raises(SaveError, match="is a symbolic link"):
            reservation.commit(write)
    assert target.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
