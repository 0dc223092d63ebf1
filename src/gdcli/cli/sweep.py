"""gdcli sweep: every combination of some config keys' values, each a `gdcli train --run-dir`
process, N at a time; a live table while they run, the results table and a plot at the end.
Or, with --print-commands, the commands themselves, for a scheduler to run."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from gdcli.cli.app import DataDirOpt, JsonOpt, QuietOpt, app, option
from gdcli.cli.runs import RUN_DIR, print_runs_table, runs_rows
from gdcli.cli.terminal import print_json, show_progress, stderr_console, stdout, to_json
from gdcli.errors import GdcliError, Interrupted, UsageError
from gdcli.experiments.pool import Job, Pool
from gdcli.experiments.table import RunRecord, read_run

BLAS_ENV = (
    "GDCLI_BLAS_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
LIVE_ROWS = 20  # rows of the live table; beyond, the running runs and the last finished


def default_jobs() -> int:
    """One process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def _train_options() -> dict[str, tuple[str, str | None]]:
    """Config key -> (train's option, its "off" flag for a true/false key), read from the train
    command itself, so that every key train takes can be swept."""
    from gdcli.cli.app import _click_command

    train = _click_command().commands["train"]
    out = {}
    for p in train.params:
        if p.name:
            secondary = getattr(p, "secondary_opts", None) or [None]
            out[p.name] = (p.opts[0], secondary[0])
    return out


def _cli_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_cli_value(v) for v in value)
    return str(value)


def train_command(
    combo: dict[str, Any], config: str | None, run_dir: Path, data_dir: Path | None
) -> list[str]:
    """The `gdcli train` arguments (after `gdcli`) of one combination."""
    options = _train_options()
    args = ["train"]
    if config is not None:
        args += ["--config", config]
    for key, value in combo.items():
        flag, off = options[key]
        if isinstance(value, bool):
            args.append(flag if value else (off or f"--no-{flag[2:]}"))
        else:
            args += [flag, _cli_value(value)]
    args += ["--run-dir", str(run_dir)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    return args


def child_env() -> dict[str, str]:
    """The children's environment: one BLAS thread each (N processes on N cores), unless the
    user chose a number already."""
    env = dict(os.environ)
    for name in BLAS_ENV:
        env.setdefault(name, "1")
    return env


AxesArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="KEY=V1,V2,...",
        help="A config key and its values, e.g. alpha=0.001,0.01,0.1 hidden=40,[128,64] "
        "(brackets group a value holding commas). [required]",
        show_default=False,
    ),
]


@app.command("sweep")
def sweep_cmd(
    axes: AxesArg = None,
    config: Annotated[
        str | None,
        option(
            "--config",
            help="The base: a shipped config's name or a TOML file.",
            metavar="NAME|FILE",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        option(
            "--jobs",
            "-j",
            help="Runs at a time.",
            default="one per core",
            metavar="N",
            min=1,
            max=1024,
        ),
    ] = None,
    run_dir: Annotated[
        Path,
        option("--run-dir", help="Where the run folders go.", default=str(RUN_DIR), metavar="DIR"),
    ] = RUN_DIR,
    data_dir: DataDirOpt = None,
    print_commands: Annotated[
        bool,
        option(
            "--print-commands",
            help="Print one `gdcli train` command per run and run nothing (for GNU parallel "
            "or a Slurm array).",
        ),
    ] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a grid of config values in parallel. Each run goes into its own run folder;
    then the results table and a plot of accuracy against each swept number."""
    from gdcli.experiments import grid

    if not axes:
        raise UsageError("nothing to sweep", hint="give KEY=V1,V2,..., e.g. alpha=0.001,0.01,0.1")
    parsed = grid.parse_axes(axes)
    limit = grid.MAX_LISTED if print_commands else grid.MAX_RUNS
    hint = (
        None
        if print_commands
        else ("--print-commands prints the commands, for GNU parallel or a cluster's scheduler")
    )
    grid.check_grid(config, parsed, limit, hint)  # every combination valid, or nothing runs
    combos = list(grid.combinations(parsed))
    commands = [train_command(c, config, run_dir, data_dir) for c in combos]
    if print_commands:
        for args in commands:
            sys.stdout.write(shlex.join(["gdcli", *args]) + "\n")
        sys.stdout.flush()
        return
    run_sweep(combos, commands, config, run_dir, jobs or default_jobs(), as_json, quiet)


class SweepDisplay:
    """What the sweep shows on stderr while it runs. On a terminal, a live table of the runs
    (queued, running at epoch e/N, done with its accuracy, diverged, failed) under a line of
    counts; elsewhere (a pipe, a log file) one plain line when a run starts and when it ends.
    With --quiet, nothing."""

    def __init__(self, console: Console, jobs: list[Job], labels: list[str]) -> None:
        self.console, self.jobs, self.labels = console, jobs, labels
        self.index = {id(j): i for i, j in enumerate(jobs)}
        self.live = Live(console=console, refresh_per_second=4) if show_progress(console) else None
        self.said: dict[int, str] = {}

    def __enter__(self) -> SweepDisplay:
        if self.live is not None:
            self.live.update(self.render())
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.render())
            self.live.stop()

    def counts(self) -> str:
        states: dict[str, int] = {}
        for j in self.jobs:
            states[j.state] = states.get(j.state, 0) + 1
        order = ("done", "running", "queued", "diverged", "failed", "stopped", "not started")
        parts = [f"{states[s]} {s}" for s in order if states.get(s)]
        return f"{len(self.jobs)} runs: " + ", ".join(parts)

    def state_text(self, job: Job) -> str:
        if job.state == "running":
            if job.epoch is None:
                return "running"
            return f"running, epoch {job.epoch}" + (f"/{job.epochs}" if job.epochs else "")
        if job.state == "done":
            # the figure to choose by: validation when the runs have it, never test beside it
            result = job.result or {}
            split = "val" if result.get("val_accuracy") is not None else "test"
            accuracy = result.get(f"{split}_accuracy")
            return "done" + ("" if accuracy is None else f", {split} {100 * accuracy:.2f}%")
        if job.state == "diverged":
            return f"diverged at epoch {(job.result or {}).get('epochs', '?')}"
        if job.state == "failed":
            return f"failed: {job.error}"
        return job.state

    def render(self) -> Table:
        table = Table(title=self.counts(), title_justify="left", box=None, pad_edge=False)
        for name in ("#", "settings", "state"):
            table.add_column(name, overflow="fold")
        shown = list(enumerate(self.jobs))
        if len(shown) > LIVE_ROWS:  # the running ones, then the latest to finish, then queued
            running = [(i, j) for i, j in shown if j.state == "running"]
            ended = [(i, j) for i, j in shown if j.state not in ("running", "queued")]
            queued = [(i, j) for i, j in shown if j.state == "queued"]
            room = max(0, LIVE_ROWS - len(running))
            shown = sorted(running + ended[-room // 2 or len(ended) :][:room] if room else running)
            shown += queued[: max(0, LIVE_ROWS - len(shown))]
        for i, job in shown:
            table.add_row(str(i + 1), self.labels[i], self.state_text(job))
        return table

    def changed(self, job: Job) -> None:
        if self.live is not None:
            self.live.update(self.render())
            return
        i = self.index[id(job)]
        if job.state == "queued" or self.said.get(i) == job.state:
            return  # in a pipe: a line when a run starts and one when it ends, not every epoch
        self.said[i] = job.state
        where = f" -> {job.run_dir}" if job.run_dir and job.state != "running" else ""
        self.console.print(
            f"[{i + 1}/{len(self.jobs)}] {self.labels[i]}: {self.state_text(job)}{where}",
            markup=False,
            highlight=False,
        )

    def tick(self) -> None:
        if self.live is not None:
            self.live.update(self.render())


def _reserve_record(run_dir: Path) -> Path:
    """A new `sweep-N.json` in run_dir (N the first free number), created empty at once so that
    two sweeps into one folder never share it."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--run-dir {run_dir}: cannot make it: {exc.strerror or exc}") from exc
    for n in range(1, 100_000):
        path = run_dir / f"sweep-{n}.json"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            why = exc.strerror or exc
            raise UsageError(f"--run-dir {run_dir}: cannot write there: {why}") from exc
    raise UsageError(f"--run-dir {run_dir}: 99,999 sweeps already")


def _records(jobs: list[Job], combos: list[dict[str, Any]]) -> list[RunRecord]:
    """What became of each run, read from its folder (or from the job, when it never made one)."""
    out = []
    for job, combo in zip(jobs, combos, strict=True):
        folder = job.run_dir or (job.result or {}).get("run_dir")
        if folder and Path(folder).is_dir():
            record = read_run(Path(folder))
        else:
            record = RunRecord(Path(""), "-", -1, job.state, seconds=job.seconds)
        if job.state in ("failed", "stopped", "not started") or record.status == "incomplete":
            record.status = job.state if job.state != "done" else record.status
        record.error = record.error or job.error
        record.settings = combo
        out.append(record)
    return out


def run_sweep(
    combos: list[dict[str, Any]],
    commands: list[list[str]],
    config: str | None,
    run_dir: Path,
    workers: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run the sweep's commands, `workers` at a time; then write its record (sweep-N.json) and
    plot (sweep-N.png) into run_dir, and print the results."""
    from gdcli.experiments.grid import describe
    from gdcli.io.atomic import write_bytes, write_text

    record_path = _reserve_record(run_dir)
    err = stderr_console(quiet)
    jobs = [Job([sys.executable, "-m", "gdcli", *args, "--json", "--quiet"]) for args in commands]
    display = SweepDisplay(err, jobs, [describe(c) for c in combos])
    pool = Pool(jobs, workers, child_env(), on_change=display.changed, on_tick=display.tick)
    interrupted: Interrupted | None = None
    with display:
        try:
            pool.run()
        except Interrupted as exc:  # every child is stopped by now; the finished runs stay
            interrupted = exc
    records = _records(jobs, combos)
    plot_path = record_path.with_suffix(".png")
    png = None
    if interrupted is None:
        from gdcli.viz.sweep_plot import sweep_png

        results = [
            {"val_accuracy": r.val_accuracy, "test_accuracy": r.test_accuracy} for r in records
        ]
        png = sweep_png(combos, results)
        if png is not None:
            write_bytes(plot_path, png)
    record = {
        "status": "interrupted" if interrupted else "done",
        "base": config,
        "runs": [
            {**r.to_json(), "command": shlex.join(["gdcli", *args])}
            for r, args in zip(records, commands, strict=True)
        ],
        "plot": plot_path.name if png is not None else None,
    }
    write_text(record_path, to_json(record, indent=2) + "\n")
    if as_json:
        print_json(
            {
                "record": str(record_path),
                "plot": str(plot_path) if png else None,
                "runs": record["runs"],
            }
        )
    else:
        columns, rows = runs_rows(records)
        print_runs_table(columns, rows)
        if png is not None:
            stdout.print(f"plot: {plot_path}", markup=False)
    if interrupted is not None:
        done = sum(r.status == "done" for r in records)
        err.print(
            f"sweep stopped: {done} of {len(records)} runs had finished; their folders "
            f"stay in {run_dir}/ ({record_path.name} lists them)",
            markup=False,
        )
        raise interrupted
    failed = [r for r in records if r.status == "failed"]
    if failed:
        raise GdcliError(
            f"{len(failed)} of {len(records)} runs failed; the first: {failed[0].error}",
            hint=f"{record_path} lists every run and what became of it",
        )
