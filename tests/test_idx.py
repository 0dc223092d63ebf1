import gzip

import numpy as np
import pytest
from conftest import idx_bytes, write_idx

from gdcli.data.idx import IdxError, read_idx, verify


def test_reads_gzipped_and_raw_alike(tmp_path):
    images = np.arange(5 * 28 * 28, dtype=np.uint32).reshape(5, 28, 28) % 256
    gz = write_idx(tmp_path / "a.gz", images)
    raw = write_idx(tmp_path / "a", images, gz=False)
    for path in (gz, raw):
        got = read_idx(path)
        assert got.shape == (5, 28, 28) and got.dtype == np.uint8
        assert np.array_equal(got, images)


def test_reads_only_the_first_records(tmp_path):
    labels = np.array([5, 0, 4, 1, 9, 2], dtype=np.uint8)
    path = write_idx(tmp_path / "l.gz", labels)
    assert read_idx(path, 3).tolist() == [5, 0, 4]
    assert read_idx(path, 100).tolist() == labels.tolist()


def test_other_dtypes_are_big_endian(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e10]])
    path = write_idx(tmp_path / "f", values, gz=False, code=0x0E)
    assert np.array_equal(read_idx(path), values)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b"\x08\x03" + b[2:], "not an IDX file"),
        (lambda b: b[:2] + b"\x42" + b[3:], "unknown IDX dtype code 0x42"),
        (lambda b: b[:-10], "but the content is"),
        (lambda b: b + b"extra", "but the content is"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, mangle, message):
    data = mangle(idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8)))
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(IdxError, match=message):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(2000, dtype=np.uint8).reshape(2000) % 7))
    path = tmp_path / "t.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match=r"corrupt or truncated gzip|but the content is"):
        read_idx(path)
    with pytest.raises(IdxError, match="corrupt or truncated gzip"):
        verify(path, 2008, "0" * 64)


def test_verify_checks_size_then_checksum(tmp_path):
    import hashlib

    data = idx_bytes(np.arange(10, dtype=np.uint8))
    path = tmp_path / "v"
    path.write_bytes(data)
    verify(path, len(data), hashlib.sha256(data).hexdigest())
    with pytest.raises(IdxError, match="bytes of content, expected"):
        verify(path, len(data) + 1, hashlib.sha256(data).hexdigest())
    with pytest.raises(IdxError, match="checksum mismatch"):
        verify(path, len(data), "0" * 64)
    # a recompressed copy verifies like the raw one
    (tmp_path / "v.gz").write_bytes(gzip.compress(data, compresslevel=1))
    verify(tmp_path / "v.gz", len(data), hashlib.sha256(data).hexdigest())


def test_verify_stops_once_past_the_expected_size(tmp_path):
    """8 MB of content whose gzip is cut short: verify says "more than expected" after the first
    megabyte, so it never reaches the truncated end (nor decompresses a gzip bomb whole)."""
    data = idx_bytes(np.zeros(8 << 20, dtype=np.uint8))
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(data)[:-20])
    with pytest.raises(IdxError, match="more than the expected 1000 bytes"):
        verify(path, 1000, "0" * 64)


def test_verify_names_the_file_it_is_told(tmp_path):
    path = tmp_path / ".t10k-labels-idx1-ubyte.gz.1a2b3c4d.part"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))))
    with pytest.raises(IdxError) as info:
        verify(path, 18, "0" * 64, name="t10k-labels-idx1-ubyte.gz")
    assert info.value.message.startswith("t10k-labels-idx1-ubyte.gz: checksum mismatch")
    assert ".part" not in info.value.message


def test_reads_the_synthetic_files(synthetic_files):
    images = read_idx(synthetic_files / "train-images-idx3-ubyte.gz")
    labels = read_idx(synthetic_files / "train-labels-idx1-ubyte.gz")
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1000,) and sorted(set(labels.tolist())) == list(range(10))
    assert read_idx(synthetic_files / "t10k-images-idx3-ubyte.gz", 5).shape == (5, 28, 28)
