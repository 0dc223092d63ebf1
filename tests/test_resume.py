"""Interrupt and resume, bit for bit: a run stopped after any epoch and resumed ends with the
weights and history of the same run never stopped (the seconds aside: they are the clock's)."""

import json
import signal
import subprocess

import numpy as np
import pytest
from conftest import assert_one_line_error, cli_command, cli_env, run_cli

import gdcli
from gdcli.errors import Interrupted, UsageError
from gdcli.io import weights_file

# the book's dropout network (chapter 8: 784-100-10, p = 0.5, its errata) on 100 images
DROPOUT = {"n_train": 100, "epochs": 6, "eval_every": 2}
# mini-batches with their four shifts each, a decaying alpha, dropout, a validation split and
# the best epoch kept: every piece of state a resume must carry on
BATCHES = {"n_train": 100, "epochs": 7, "batch_size": 10, "augment": "shifts",
           "alpha_decay": 0.3, "alpha": 0.05, "hidden": [16], "dropout": 0.2, "val": 100,
           "keep": "best", "early_stop": 50, "eval_every": 2, "snapshots": "0,1,3,6"}  # fmt: skip


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def assert_same_run(a: gdcli.Run, b: gdcli.Run) -> None:
    for la, lb in zip(a.network.layers, b.network.layers, strict=True):
        assert np.array_equal(la.weights, lb.weights)
        assert (la.bias is None and lb.bias is None) or np.array_equal(la.bias, lb.bias)
    assert without_seconds(a.history) == without_seconds(b.history)
    assert sorted(a.snapshots) == sorted(b.snapshots)
    for e in a.snapshots:  # as the file keeps them: float32
        pairs = zip(a.snapshots[e], b.snapshots[e], strict=True)
        assert all(np.array_equal(np.float32(x), np.float32(y)) for x, y in pairs)
    same = {k: v for k, v in a.summary.items() if k != "seconds"}
    assert same == {k: v for k, v in b.summary.items() if k != "seconds"}


def stopped_after(epoch, config, data_dir, tmp_path, **keys) -> "gdcli.Run":
    """The run interrupted (Ctrl-C) at the end of `epoch`, as saved."""

    def stop(m):
        if m["epoch"] == epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        gdcli.train(config, data_dir=data_dir, quiet=True, on_epoch=stop, **keys)
    run = caught.value.run
    assert run.summary["interrupted_at"] == epoch == len(run.history)
    path = tmp_path / f"stopped-{epoch}.npz"
    run.save(path)
    return gdcli.load(path)


@pytest.mark.parametrize(
    ("config", "keys", "stops"),
    [("book-ch8-dropout", DROPOUT, [1, 3, 5]), (None, BATCHES, [1, 2, 4, 6])],
    ids=["book-ch8-dropout", "batches-shifts-decay"],
)
def test_a_resumed_run_is_the_run_never_stopped(tmp_path, synthetic_data_dir, config, keys,
                                                stops):  # fmt: skip
    whole = gdcli.train(config, data_dir=synthetic_data_dir, quiet=True, **keys)
    for epoch in stops:
        stopped = stopped_after(epoch, config, synthetic_data_dir, tmp_path, **keys)
        resumed = gdcli.train(resume=stopped.path, data_dir=synthetic_data_dir, quiet=True)
        assert_same_run(whole, resumed)
    # stopped twice: the resumed run interrupted again, resumed again
    first = stopped_after(stops[0], config, synthetic_data_dir, tmp_path, **keys)

    def stop(m):
        if m["epoch"] == stops[-1]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        gdcli.train(resume=first.path, data_dir=synthetic_data_dir, quiet=True, on_epoch=stop)
    again = caught.value.run.save(tmp_path / "again.npz")
    assert_same_run(whole, gdcli.train(resume=again, data_dir=synthetic_data_dir, quiet=True))


def test_the_best_epoch_survives_an_interrupt(tmp_path, synthetic_data_dir):
    """keep = best: the file of an interrupted run holds the best weights so far, and what the
    resume continues from (the last epoch's) beside them."""
    whole = gdcli.train(data_dir=synthetic_data_dir, quiet=True, **BATCHES)
    stopped = stopped_after(6, None, synthetic_data_dir, tmp_path, **BATCHES)
    best = stopped.summary["best_epoch"]
    if best != 6:
        assert stopped.file.resume_layers is not None
    assert stopped.summary["weights_epoch"] == best
    assert_same_run(whole, gdcli.train(resume=stopped.path, data_dir=synthetic_data_dir,
                                       quiet=True))  # fmt: skip


def test_a_finished_run_trains_on_to_more_epochs(tmp_path, synthetic_data_dir):
    keys = {"n_train": 100, "hidden": [16], "eval_every": 1, "snapshots": "none"}
    short = gdcli.train(data_dir=synthetic_data_dir, quiet=True, epochs=3, **keys)
    short.save(tmp_path / "w.npz")
    longer = gdcli.train(resume=tmp_path / "w.npz", epochs=5, data_dir=synthetic_data_dir,
                         quiet=True)  # fmt: skip
    assert_same_run(gdcli.train(data_dir=synthetic_data_dir, quiet=True, epochs=5, **keys), longer)
    assert longer.config.epochs == 5 and longer.summary["interrupted_at"] is None


def test_a_real_interrupt_then_resume_appends_the_metrics_once(tmp_path, synthetic_data_dir):
    """SIGINT to a training process after its first epochs; `--resume` then continues it, and
    its metrics file ends with every epoch once, as the run never stopped would write it."""
    args = ["--config", "book-ch8-dropout", "--data-dir", str(synthetic_data_dir),
            "--n-train", "100", "--eval-every", "1", "--snapshots", "none"]  # fmt: skip
    proc = subprocess.Popen(
        cli_command("train", *args, "--epochs", "100000", "--metrics", "m.jsonl"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    for _ in range(3):  # three epochs tested and logged
        assert proc.stderr.readline().startswith(" I:")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    stopped = gdcli.load(tmp_path / "weights.npz")
    epoch = stopped.summary["interrupted_at"]
    assert epoch >= 3 and f"after epoch {epoch} of 100000" in err
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == epoch

    total = str(epoch + 3)
    data = ["--data-dir", str(synthetic_data_dir)]
    result = run_cli("train", "--resume", "weights.npz", "--epochs", total, "--metrics",
                     "m.jsonl", *data, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote weights.npz\n" in result.stderr  # written back to the file it resumed
    result = run_cli("train", *args, "--epochs", total, "--metrics", "whole.jsonl", "--out",
                     "whole.npz", "-q", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    resumed, whole = gdcli.load(tmp_path / "weights.npz"), gdcli.load(tmp_path / "whole.npz")
    assert_same_run(whole, resumed)

    def lines(name):
        return [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]

    assert [m["epoch"] for m in lines("m.jsonl")] == list(range(1, epoch + 4))
    assert without_seconds(lines("m.jsonl")) == without_seconds(lines("whole.jsonl"))


def test_a_second_interrupt_while_writing_leaves_the_older_file(tmp_path, synthetic_data_dir,
                                                                monkeypatch):  # fmt: skip
    """The first Ctrl-C lands in epoch 3, the second while its file is being written: gdcli
    stops at once, and the weights file a user had is as it was."""
    from gdcli.cli import terminal

    (tmp_path / "weights.npz").write_bytes(b"an older run\n")
    shown = terminal.TrainDisplay.epoch

    def epoch(self, m):
        shown(self, m)
        if m["epoch"] == 3:
            raise Interrupted(signal.SIGINT)

    def half_written(f, **arrays):
        f.write(b"PK\x03\x04 half of it")
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(terminal.TrainDisplay, "epoch", epoch)
    monkeypatch.setattr(weights_file.np, "savez_compressed", half_written)
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "100",
                     "--epochs", "10", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 130
    assert result.stderr.splitlines()[-1] == (
        "error: interrupted (SIGINT) again while the run of epoch 3 of 10 was written: stopped "
        "at once; weights.npz is as it was before; nothing half-written was left behind"
    )
    assert (tmp_path / "weights.npz").read_bytes() == b"an older run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]


# ------------------------------------------------------------------ what cannot be resumed


@pytest.fixture(scope="module")
def finished(tmp_path_factory, synthetic_data_dir):
    path = tmp_path_factory.mktemp("finished") / "w.npz"
    gdcli.train(data_dir=synthetic_data_dir, quiet=True, n_train=100, epochs=3).save(path)
    return path


def test_resume_refuses_options_that_would_change_the_run(tmp_path, finished):
    for args, needle in [
        (["--alpha", "0.1"], "--resume continues the run as it was configured; --alpha would"),
        (["--config", "book-ch8"], "--config would change it"),
        (["--val", "10"], "--val would change it"),
    ]:
        result = run_cli("train", "--resume", str(finished), *args, cwd=tmp_path)
        assert_one_line_error(result, 2, needle)
    with pytest.raises(UsageError, match=r"resume continues .* alpha would change it"):
        gdcli.train(resume=finished, alpha=0.1)


def test_resume_of_a_finished_run_needs_more_epochs(tmp_path, finished):
    before = finished.read_bytes()
    result = run_cli("train", "--resume", str(finished), cwd=tmp_path)
    assert_one_line_error(result, 2, f"{finished} is already at epoch 3")
    assert "hint: give a larger --epochs" in result.stderr
    result = run_cli("train", "--resume", str(finished), "--epochs", "2", cwd=tmp_path)
    assert_one_line_error(result, 2, "already at epoch 3; --epochs 2 would not train on")
    assert finished.read_bytes() == before and list(tmp_path.iterdir()) == []


def test_resume_of_an_older_gdclis_file_says_so(tmp_path, finished):
    wf = weights_file.load(finished)
    del wf.meta["resume"]
    wf.meta["gdcli_version"] = "0.2.0"
    weights_file.save(tmp_path / "old.npz", wf)
    result = run_cli("train", "--resume", "old.npz", cwd=tmp_path)
    assert_one_line_error(result, 2, "old.npz was written by gdcli 0.2.0, which does not keep "
                          "what a resume needs")  # fmt: skip


def test_resume_of_a_diverged_or_early_stopped_run_is_refused(tmp_path, synthetic_data_dir):
    with pytest.raises(gdcli.api.Diverged) as caught:
        gdcli.train(data_dir=synthetic_data_dir, quiet=True, n_train=100, alpha=0.3, epochs=20)
    caught.value.run.save(tmp_path / "diverged.npz")
    result = run_cli("train", "--resume", "diverged.npz", "--epochs", "30", cwd=tmp_path)
    assert_one_line_error(result, 2, "holds a run that diverged at epoch")
    stopped = gdcli.train(data_dir=synthetic_data_dir, quiet=True, n_train=100, val=100,
                          hidden=[16], alpha=0.02, epochs=300, early_stop=1)  # fmt: skip
    assert stopped.summary["stopped_early"]
    stopped.save(tmp_path / "early.npz")
    result = run_cli("train", "--resume", "early.npz", "--epochs", "400", cwd=tmp_path)
    assert_one_line_error(result, 2, "early.npz stopped early at epoch")


def test_resume_of_a_missing_file_is_one_line(tmp_path):
    result = run_cli("train", "--resume", "nothing.npz", cwd=tmp_path)
    assert_one_line_error(result, 2, "no weights file at nothing.npz")
    assert list(tmp_path.iterdir()) == []
