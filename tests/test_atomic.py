"""Atomic writes: the usual file mode, nothing half-written, a full disk as one clear error."""

import os

import pytest

from gdcli.errors import GdcliError
from gdcli.io.atomic import atomic_path, leftovers, write_bytes


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_files_get_0666_less_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_bytes(tmp_path / "out.bin", b"data")
    finally:
        os.umask(old)
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == mode


def test_a_failure_inside_leaves_the_old_file_and_no_temporary(tmp_path):
    final = tmp_path / "weights.npz"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_bytes(b"half of the new")
        raise RuntimeError
    assert final.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]


def test_leftovers_are_this_files_temporaries_only(tmp_path):
    final = tmp_path / "train-images-idx3-ubyte.gz"
    mine = [tmp_path / ".train-images-idx3-ubyte.gz.0a1b2c3d.part"]
    others = [tmp_path / ".t10k-images-idx3-ubyte.gz.0a1b2c3d.part", tmp_path / "x.part"]
    for p in [*mine, *others]:
        p.write_bytes(b"")
    assert leftovers(final) == mine
    with atomic_path(final) as tmp:  # the temporary name follows the same pattern
        assert tmp in leftovers(final)


def test_full_disk_is_one_error_naming_the_final_file(small_disk):
    final = small_disk / "weights.npz"
    write_bytes(final, b"old weights")
    with pytest.raises(GdcliError) as info:
        write_bytes(final, bytes(1 << 20))  # 1 MB on a 64 KiB disk
    assert info.value.message == f"cannot write {final}: no space left on device"
    assert final.read_bytes() == b"old weights"  # nothing already made is lost
    assert sorted(p.name for p in small_disk.iterdir()) == ["weights.npz"]
