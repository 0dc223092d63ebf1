"""gdcli fetch --dataset admissions: the one CSV table of the registry, fetched like MNIST.

The checksum is the real table's, so these tests serve the real table (found as conftest's
admissions_source says, or skipped) from a loopback mirror or a --from folder, in the forms a
user may have it (the repository's LF student_data.csv, the lessons' CRLF binary.csv) and the
bad copies public mirrors hold.
"""

import json
from pathlib import Path

import pytest
from conftest import Mirror, assert_one_line_error, run_cli

from gdcli.data import csvfile
from gdcli.data.registry import TABLES, get_source

CSV = "student_data.csv"


@pytest.fixture
def table_bytes(admissions_source: Path) -> bytes:
    """The real table with LF line endings."""
    f = TABLES["admissions"].file
    path = next(admissions_source / n for n in f.local_names if (admissions_source / n).is_file())
    return path.read_bytes().replace(b"\r\n", b"\n")


def fetch_args(tmp_path: Path, *args: str) -> tuple[str, ...]:
    return ("fetch", "--dataset", "admissions", "--data-dir", str(tmp_path / "data"),
            "--no-builtin-mirrors", *args)  # fmt: skip


def installed(tmp_path: Path) -> list[str]:
    folder = tmp_path / "data" / "admissions"
    return sorted(p.name for p in folder.iterdir() if p.name != ".lock") if folder.is_dir() else []


def test_registry_entry_is_the_public_repositorys_file():
    table = get_source("admissions")
    assert table.file.kind == "csv" and table.file.local_names == (CSV, "binary.csv")
    (mirror,) = table.mirrors
    assert mirror.startswith("https://raw.githubusercontent.com/udacity/deep-learning-v2-pytorch/")
    assert "/c9404fc" in mirror and mirror.endswith("/intro-neural-networks/student-admissions/")


def test_downloads_from_a_mirror_and_verifies(tmp_path, table_bytes):
    served = tmp_path / "served"
    served.mkdir()
    (served / CSV).write_bytes(table_bytes)
    m = Mirror(served)
    try:
        result = run_cli(*fetch_args(tmp_path, "--mirror", m.url, "--json"))
    finally:
        m.close()
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert m.requests == [CSV]
    assert out["prepared"] == {"rows": 400, "columns": ["admit", "gre", "gpa", "rank"]}
    assert out["files"][0]["sha256"] == TABLES["admissions"].file.sha256
    assert (tmp_path / "data" / "admissions" / CSV).read_bytes() == table_bytes
    again = run_cli(*fetch_args(tmp_path, "--json"))  # verified copy kept: no source needed
    assert json.loads(again.stdout)["files"][0]["source"] == "present"


def test_a_corrupt_mirror_then_a_good_one(tmp_path, table_bytes):
    bad, good = tmp_path / "bad", tmp_path / "good"
    for folder, data in ((bad, table_bytes.replace(b"\n1,", b"\n0,", 1)), (good, table_bytes)):
        folder.mkdir()
        (folder / CSV).write_bytes(data)
    mirrors = [Mirror(bad), Mirror(good)]
    try:
        args = fetch_args(tmp_path, "--mirror", mirrors[0].url, "--mirror", mirrors[1].url)
        result = run_cli(*args)
    finally:
        for m in mirrors:
            m.close()
    assert result.returncode == 0, result.stderr
    assert installed(tmp_path) == [CSV]


def test_from_the_lessons_crlf_binary_csv(tmp_path, table_bytes):
    src = tmp_path / "lesson"
    src.mkdir()
    crlf = table_bytes.replace(b"\n", b"\r\n")
    assert len(crlf) == 5489
    (src / "binary.csv").write_bytes(crlf)
    result = run_cli(*fetch_args(tmp_path, "--from", str(src)))
    assert result.returncode == 0, result.stderr
    assert installed(tmp_path) == [CSV]  # installed under the registry's name
    examples = run_cli("examples", "admissions-gd", "--data-dir", str(tmp_path / "data"))
    assert examples.stdout.splitlines()[-1] == "Prediction accuracy: 0.725"


def _row4_changed(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[4] = b"0" + lines[4][1:]  # the public copy with row 4 changed: 126 admitted
    return b"\n".join(lines)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d.replace(b"admit,gre,gpa,rank", b"admit,gre,gpa,class"), "header"),
        (lambda d: d.replace(b"\n1,660,3.67,3\n", b"\n1,660,3.6x7,3\n"), "line 3:"),
        (lambda d: d.replace(b"\n1,660,3.67,3\n", b"\n1,660,3.67\n"), "line 3 has 3 fields"),
        (_row4_changed, "checksum mismatch"),
        (lambda d: b"\n".join(d.split(b"\n")[:75]) + b"\n", "74 rows"),
        (lambda d: b"\x00\xff" + d, "not a CSV text file"),
    ],
)
def test_bad_copies_are_refused_and_nothing_is_written(tmp_path, table_bytes, change, needle):
    src = tmp_path / "src"
    src.mkdir()
    bad = change(table_bytes)
    assert bad != table_bytes
    (src / "binary.csv").write_bytes(bad)
    result = run_cli(*fetch_args(tmp_path, "--from", str(src)))
    assert_one_line_error(result, 1, "could not get student_data.csv", needle)
    assert installed(tmp_path) == []


def test_the_parser_alone():
    columns = ("a", "b")
    assert csvfile.parse(b"a,b\r\n1,2\n".replace(b"\r\n", b"\n"), columns, "t").tolist() == [[1, 2]]
    with pytest.raises(csvfile.CsvError, match="no rows"):
        csvfile.parse(b"a,b\n", columns, "t")
    with pytest.raises(csvfile.CsvError, match="header 'empty'"):
        csvfile.parse(b"", columns, "t")


def test_examples_refuse_a_changed_table_in_the_data_folder(tmp_path, table_bytes):
    folder = tmp_path / "data" / "admissions"
    folder.mkdir(parents=True)
    (folder / CSV).write_bytes(_row4_changed(table_bytes))
    result = run_cli("examples", "admissions-gd", "--data-dir", str(tmp_path / "data"))
    assert_one_line_error(result, 1, "checksum mismatch")
