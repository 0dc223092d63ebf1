"""gdcli fetch: get a dataset's files, verified, and prepare the book's arrays (or read the
table of the second seed's labs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from gdcli.cli.app import DataDirOpt, DatasetOpt, JsonOpt, QuietOpt, app, option
from gdcli.cli.terminal import (
    download_progress,
    print_json,
    print_table,
    stderr_console,
    stdout,
)
from gdcli.config import DEFAULTS
from gdcli.config import FETCH_TIMEOUT as DEFAULT_TIMEOUT
from gdcli.data.load import load_split
from gdcli.data.registry import DEFAULT_DATASET, Dataset, Table, get_source, resolve_data_dir
from gdcli.errors import UsageError

if TYPE_CHECKING:
    from gdcli.data.fetch import FetchedFile


@app.command("fetch", short_help="Download a dataset and verify its files.")
def fetch_cmd(
    dataset: DatasetOpt = DEFAULT_DATASET,
    mirror: Annotated[
        list[str] | None,
        option(
            "--mirror",
            help="Base URL tried before the built-in mirrors (repeatable).",
            default="$GDCLI_MIRROR, comma-separated",
            metavar="URL",
        ),
    ] = None,
    from_dir: Annotated[
        Path | None,
        option("--from", help="Take the files from this folder instead.", metavar="DIR"),
    ] = None,
    data_dir: DataDirOpt = None,
    # gdcli 0.2's --n-train chose how many training images fetch read, then threw them away:
    # accepted in 0.3 (hidden, with a note) so that scripts keep working; removed in 0.4.
    n_train: Annotated[
        int | None,
        option("--n-train", help="No effect (removed in 0.4).", metavar="N", hidden=True),
    ] = None,
    force: Annotated[bool, option("--force", help="Fetch even verified files again.")] = False,
    builtin_mirrors: Annotated[
        bool,
        option(
            "--builtin-mirrors/--no-builtin-mirrors",
            default=True,
            help="Also try the dataset's built-in mirrors after --mirror.",
        ),
    ] = True,
    timeout: Annotated[
        float,
        option(
            "--timeout",
            help="Seconds to connect, for each read, and for any one wait between retries.",
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            min=0.01,
        ),
    ] = DEFAULT_TIMEOUT,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Download a dataset's files, verify them, and prepare the book's arrays."""
    ds = get_source(dataset)
    folder = resolve_data_dir(data_dir)
    if from_dir is not None and not from_dir.is_dir():
        raise UsageError(f"--from {from_dir}: no such folder")
    err = stderr_console(quiet)
    if n_train is not None:
        err.print(
            "note: fetch --n-train has no effect and will be removed in gdcli 0.4; "
            "`gdcli train --n-train N` chooses the training images",
            markup=False,
        )
    from gdcli.data.fetch import fetch  # requests: imported by fetch alone, not at every start

    with download_progress(err) as progress:
        files = fetch(
            ds, folder, mirrors=mirror, from_dir=from_dir, force=force,
            use_builtin_mirrors=builtin_mirrors, timeout=timeout, progress=progress,
            notify=err.print,
        )  # fmt: skip
    if isinstance(ds, Table):
        _report(ds, folder, files, {"rows": ds.rows, "columns": list(ds.columns)}, as_json)
        return
    x_train, labels_train = load_split(ds, folder, "train", DEFAULTS.n_train)
    x_test, _ = load_split(ds, folder, "test")
    prepared = {
        "train_images": list(x_train.shape),
        "train_labels": [len(labels_train), len(ds.classes)],
        "test_images": list(x_test.shape),
    }
    _report(ds, folder, files, prepared, as_json)
    if not as_json:
        stdout.print(
            f"prepared: train images {x_train.shape[0]}x{x_train.shape[1]} float64 in [0, 1], "
            f"labels {len(labels_train)}x{len(ds.classes)} one-hot; "
            f"test images {x_test.shape[0]}x{x_test.shape[1]}"
        )


def _report(
    ds: Dataset | Table,
    folder: Path,
    files: list[FetchedFile],
    prepared: dict[str, Any],
    as_json: bool,
) -> None:
    """The fetched files as a table or JSON; a table's rows (verified with its checksum)."""
    if as_json:
        print_json(
            {
                "dataset": ds.name,
                "data_dir": str(folder / ds.name),
                "files": [
                    {"name": f.name, "path": str(f.path), "bytes": f.bytes, "sha256": f.sha256,
                     "source": f.source, "verified": True}
                    for f in files
                ],
                "prepared": prepared,
            }
        )  # fmt: skip
        return
    # Two columns fit a 60-column terminal; the source (a URL, a folder) is said once if it is
    # the same for every file ("present": already here), as it is unless a mirror failed.
    sources = {f.source for f in files}
    columns = ["file", "bytes"] if len(sources) == 1 else ["file", "bytes", "source"]
    rows = [[f.path.name, f"{f.bytes:,}", f.source][: len(columns)] for f in files]
    print_table(f"{ds.name} in {folder / ds.name}, every file verified", columns, rows)
    if len(sources) == 1:
        source = next(iter(sources))
        said = "already here" if source == "present" else f"from {source}"
        stdout.print(said, markup=False)
    if isinstance(ds, Table):
        stdout.print(f"table: {ds.rows} rows of {','.join(ds.columns)}")
