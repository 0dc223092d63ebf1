"""Speed and exactness of gdcli's trainers against the book's code, side by side in one process.

    python scripts/bench.py [--data-dir DIR] [--epochs 350] [--n-train 1000] [--full]
                            [--hidden [--hidden-epochs 5]] [--end-to-end ch8|all]

Chapter 5 (always): on the same first N images at alpha 0.01, the book's loop written the book's
way (numpy, one image at a time), gdcli's per-example engine (blocked, exact) and gdcli's
mini-batch trainer (batch 10): ms per epoch, the speed ratio to the book's loop, the max abs
weight difference to the book's weights. --full adds the cost per epoch on all 60,000 training
images (a few epochs; the book's loop there is timed on one epoch).

--hidden: each configs/book-*.toml against the book's own chapter 8 and 9 listings
(gdcli/book/listings.py), --hidden-epochs epochs of each: ms per epoch, the ratio, and the max
abs difference of every layer's weights.

--conv N: chapter 10 end to end, the listing (its per-image test after every iteration) timed
on its first N iterations against gdcli's whole run, and every printed line compared.

--conv-interleaved N: chapter 10, N iterations of the listing and of gdcli turn about in one
process, each timed in CPU seconds of its own thread; nothing else is run.

--end-to-end ch8 (or all): the whole run as a reader makes it: the book's listing with the test
it runs every 10 iterations (one image at a time, as the notebook), against `gdcli train
--config configs/book-ch8.toml` as a command (a new process: start-up, reading the data, the
350 epochs, the 36 tests, the weights file), and whether every line the book printed matches.

BLAS threads change these numbers a lot on a busy machine (products this small gain nothing
from threads): the numbers are printed with the thread counts threadpoolctl reports, if it is
installed.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gdcli.book import listings as book_listings
from gdcli.book.errata import log_line
from gdcli.config import TrainConfig, make_config
from gdcli.data.load import load_split, one_hot
from gdcli.data.registry import DATASETS, resolve_data_dir
from gdcli.nn import engines
from gdcli.nn.train import EpochMetrics, TrainData, build_network, layer_sizes, step_rule, train

ROOT = Path(__file__).resolve().parents[1]

LISTINGS = {
    "book-ch8": book_listings.ch8,
    "book-ch8-fixed": lambda x, y, n, after=None: book_listings.ch8(x, y, n, True, after),
    "book-ch8-dropout": book_listings.ch8_dropout,
    "book-ch8-dropout-fixed": lambda x, y, n, after=None: book_listings.ch8_dropout(
        x, y, n, True, after
    ),
    "book-ch8-batch": book_listings.ch8_batch,
    "book-ch9": book_listings.ch9,
    "book-ch10": book_listings.ch10,
}


def book_loop(images: np.ndarray, labels: np.ndarray, alpha: float, epochs: int) -> np.ndarray:
    np.random.seed(1)
    weights = 0.2 * np.random.random((784, 10)) - 0.1
    for _ in range(epochs):
        for i in range(len(images)):
            layer_0 = images[i : i + 1]
            pred = layer_0.dot(weights)
            delta = pred - labels[i : i + 1]
            weight_deltas = layer_0.T.dot(delta)
            weights -= alpha * weight_deltas
    return weights


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def chapter5(data: TrainData, epochs: int, book_epochs: int) -> None:
    n = len(data.labels_train)
    y = one_hot(data.labels_train)
    book_w, book_s = timed(lambda: book_loop(data.x_train, y, 0.01, book_epochs))
    book_ms = book_s / book_epochs * 1e3
    print(f"\nchapter 5: {n} images, alpha 0.01 ({epochs} epochs; the book's loop {book_epochs})")
    print(f"{'trainer':<32}{'ms/epoch':>10}{'speed-up':>10}{'max |dW| vs book':>20}")
    print(f"{'book loop (numpy, per image)':<32}{book_ms:>10.2f}{1:>10.1f}{'-':>20}")
    for name, cfg in (
        ("gdcli per-example (exact)", TrainConfig(n_train=n, epochs=epochs, eval_every=10**9)),
        ("gdcli mini-batch (B=10)", TrainConfig(n_train=n, epochs=epochs, batch_size=10,
                                                eval_every=10**9)),
    ):  # fmt: skip
        result, seconds = timed(lambda cfg=cfg: train(cfg, data))
        ms = seconds / epochs * 1e3
        weights = result.network.layers[0].weights
        if cfg.batch_size == 1 and epochs == book_epochs:
            diff = f"{np.max(np.abs(weights - book_w)):.2e}"
        elif cfg.batch_size == 1:
            same = train(TrainConfig(n_train=n, epochs=book_epochs, eval_every=10**9), data)
            diff = f"{np.max(np.abs(same.network.layers[0].weights - book_w)):.2e}"
        else:
            diff = "(another algorithm)"
        print(f"{name:<32}{ms:>10.2f}{book_ms / ms:>10.1f}{diff:>20}")


def hidden_layers(data: TrainData, epochs: int) -> None:
    """Each book config against its listing, `epochs` epochs, no tests."""
    y = one_hot(data.labels_train)
    print(f"\nchapters 8 and 9: the book's listings against gdcli, {epochs} epochs, no tests")
    print(f"{'config':<26}{'book ms/epoch':>15}{'gdcli ms/epoch':>16}{'speed-up':>10}"
          f"{'max |dW|':>11}")  # fmt: skip
    for name, listing in LISTINGS.items():
        expected, book_s = timed(lambda listing=listing: listing(data.x_train, y, epochs))
        cfg = make_config(ROOT / "configs" / f"{name}.toml", {"epochs": epochs})
        rng = np.random.RandomState(cfg.seed)
        net = build_network(cfg, data.x_train.shape[1], rng)
        rule = step_rule(cfg, layer_sizes(cfg, net.n_inputs))
        engine = engines.choose(cfg)(net, data.x_train, rule, rng, cfg.batch_size, cfg.augment)
        _, gdcli_s = timed(  # the engine's set-up (Gram matrices) not timed
            lambda engine=engine, cfg=cfg: [engine.epoch(y, cfg.alpha) for _ in range(epochs)]
        )
        diff = max(
            float(np.max(np.abs(layer.weights - w)))
            for layer, w in zip(net.layers, expected, strict=True)
        )
        book_ms, gdcli_ms = book_s / epochs * 1e3, gdcli_s / epochs * 1e3
        print(f"{name:<26}{book_ms:>15.1f}{gdcli_ms:>16.1f}{book_ms / gdcli_ms:>10.1f}"
              f"{diff:>11.1e}")  # fmt: skip


def figures(line: str) -> dict[str, str]:
    return dict(re.findall(r"([\w-]+):(\S+)", line))


def end_to_end(name: str, data: TrainData, data_dir: Path) -> None:
    """The book's listing with its tests, then `gdcli train --config`, each as a reader runs it."""
    cfg = make_config(ROOT / "configs" / f"{name}.toml", {})
    y, test_y = one_hot(data.labels_train), one_hot(data.labels_test)
    hidden = np.tanh if cfg.hidden_activation == "tanh" else book_listings.relu
    last = cfg.epochs - 1

    def book_test(j: int, w01: np.ndarray, w12: np.ndarray) -> None:
        if j % 10 == 0 or (name == "book-ch8" and j == last):
            book_listings.run_test(data.x_test, test_y, w01, w12, hidden)
        if name == "book-ch9" and j % 10:  # chapter 9 runs its test loop every iteration
            book_listings.run_test(data.x_test, test_y, w01, w12, hidden)

    start = time.perf_counter()
    LISTINGS[name](data.x_train, y, cfg.epochs, after=book_test)
    book_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "gdcli", "train", "--config",
                   str(ROOT / "configs" / f"{name}.toml"), "--data-dir", str(data_dir),
                   "--metrics", "m.jsonl", "--quiet"]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        gdcli_s = time.perf_counter() - start
        lines = (Path(tmp) / "m.jsonl").read_text().splitlines()
    history = [EpochMetrics(**json.loads(line)) for line in lines]
    ours = {
        m.epoch - 1: figures(log_line(m.to_json())) for m in history if m.test_accuracy is not None
    }
    printed = [figures(line) for line in book_listings.PRINTED[name].splitlines()]
    same = sum({k: ours[int(p["I"])].get(k) for k in p} == p for p in printed)
    final = history[-1].test_accuracy
    print(
        f"{name:<18}{book_s:>12.1f}{gdcli_s:>12.1f}{book_s / gdcli_s:>10.1f}"
        f"{f'{same}/{len(printed)}':>16}{final:>12}"
    )


def conv_end_to_end(data: TrainData, data_dir: Path, iterations: int) -> None:
    """Chapter 10: the listing's first `iterations` iterations with its per-image test after
    each (its 300 take about 48 minutes), against gdcli's whole run as a command, seconds per
    iteration (the listing's timed, gdcli's the run's total over 300: start-up, data and the
    weights file included); then whether every line the book printed matches."""
    y, test_y = one_hot(data.labels_train), one_hot(data.labels_test)
    per: list[float] = []

    def book_test(j: int, kernels: np.ndarray, w12: np.ndarray) -> None:
        book_listings.ch10_test(data.x_test, test_y, kernels, w12)
        per.append(time.perf_counter())

    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):  # its fastest here (docs/performance.md)
        book_listings.ch10(data.x_train, y, iterations, after=book_test)
    book_s = (time.perf_counter() - start) / iterations
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "gdcli", "train", "--config",
                   str(ROOT / "configs" / "book-ch10.toml"), "--data-dir", str(data_dir),
                   "--metrics", "m.jsonl", "--quiet"]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        gdcli_s = (time.perf_counter() - start) / 300
        lines = (Path(tmp) / "m.jsonl").read_text().splitlines()
    history = [EpochMetrics(**json.loads(line)) for line in lines]
    ours = {m.epoch - 1: figures(log_line(m.to_json())) for m in history}
    printed = [figures(line) for line in book_listings.PRINTED["book-ch10"].splitlines()]
    same = sum({k: ours[int(p["I"])].get(k) for k in p} == p for p in printed)
    print(f"\nchapter 10, seconds per iteration with its test (the listing: its first "
          f"{iterations} iterations)")  # fmt: skip
    print(f"{'listing':>10}{'gdcli':>10}{'speed-up':>10}{'lines as book':>16}")
    print(f"{book_s:>10.2f}{gdcli_s:>10.3f}{book_s / gdcli_s:>10.1f}"
          f"{f'{same}/{len(printed)}':>16}")  # fmt: skip


def conv_interleaved(data: TrainData, iterations: int) -> None:
    """Chapter 10, one iteration at a time, turn about: the listing's iteration with its
    per-image test of the 10,000 images, then gdcli's epoch with its test (configs/book-ch10,
    in this process), and so on, each timed in CPU seconds of its own thread (time.thread_time:
    a busy machine stretches the wall clock of both, not their CPU). Only one of the two runs
    at a time; BLAS on one thread for both (run with GDCLI_BLAS_THREADS=1)."""
    import threading

    cfg = make_config(ROOT / "configs" / "book-ch10.toml",
                      {"snapshots": "none", "epochs": iterations})  # fmt: skip
    y, test_y = one_hot(data.labels_train), one_hot(data.labels_test)
    book_turn, gdcli_turn = threading.Semaphore(0), threading.Semaphore(0)
    book_cpu: list[float] = []
    gdcli_cpu: list[float] = []
    mark = {"book": 0.0, "gdcli": 0.0}
    accuracies: list[tuple[float, float]] = []

    def after(j: int, kernels: np.ndarray, w12: np.ndarray) -> None:
        correct = book_listings.ch10_test(data.x_test, test_y, kernels, w12)
        book_cpu.append(time.thread_time() - mark["book"])
        accuracies.append((correct, 0.0))
        gdcli_turn.release()
        book_turn.acquire()
        mark["book"] = time.thread_time()

    def on_epoch(m: EpochMetrics) -> None:
        gdcli_cpu.append(time.thread_time() - mark["gdcli"])
        j = len(gdcli_cpu) - 1
        accuracies[j] = (accuracies[j][0], m.test_accuracy or 0.0)
        book_turn.release()
        if len(gdcli_cpu) < iterations:
            gdcli_turn.acquire()
        mark["gdcli"] = time.thread_time()

    def run_gdcli() -> None:
        gdcli_turn.acquire()
        mark["gdcli"] = time.thread_time()
        train(cfg, data, on_epoch=on_epoch)

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # thread_time counts the caller only
        worker = threading.Thread(target=run_gdcli)
        worker.start()
        mark["book"] = time.thread_time()
        book_listings.ch10(data.x_train, y, iterations, after=after)
        worker.join()
    print("\nchapter 10 interleaved, CPU seconds per iteration with its test (one thread each)")
    print(f"{'I':>4}{'listing':>10}{'gdcli':>10}{'ratio':>8}{'listing acc':>13}{'gdcli acc':>11}")
    for j, (b, g) in enumerate(zip(book_cpu, gdcli_cpu, strict=True)):
        print(f"{j:>4}{b:>10.3f}{g:>10.3f}{b / g:>8.1f}{accuracies[j][0]:>13}"
              f"{accuracies[j][1]:>11}")  # fmt: skip
    later = slice(1, None) if iterations > 1 else slice(None)  # the first holds the set-up
    b, g = float(np.sum(book_cpu[later])), float(np.sum(gdcli_cpu[later]))
    print(
        f"after the first: listing {b:.2f} s, gdcli {g:.2f} s, {b / g:.1f}x; "
        f"median ratio {np.median(np.array(book_cpu) / np.array(gdcli_cpu)):.1f}x"
    )


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=350)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--full", action="store_true", help="also all 60,000 images")
    parser.add_argument("--hidden", action="store_true", help="the chapter 8 and 9 configs")
    parser.add_argument("--hidden-epochs", type=int, default=5)
    parser.add_argument("--end-to-end", choices=["ch8", "all"], default=None)
    parser.add_argument(
        "--conv-interleaved",
        type=int,
        default=0,
        metavar="N",
        help="chapter 10, N iterations of the listing and of gdcli, turn about, CPU time",
    )
    parser.add_argument(
        "--conv",
        type=int,
        default=0,
        metavar="N",
        help="chapter 10 end to end, the listing timed on N iterations",
    )
    args = parser.parse_args()
    ds = DATASETS["mnist"]
    folder = resolve_data_dir(args.data_dir)
    print(f"BLAS threads: {blas_threads()}")
    xt, lt = load_split(ds, folder, "test")
    x, labels = load_split(ds, folder, "train", args.n_train)
    data = TrainData(x, labels, xt, lt)
    if args.conv_interleaved:
        conv_interleaved(data, args.conv_interleaved)
        return
    chapter5(data, args.epochs, args.epochs)
    if args.full:
        x60, labels60 = load_split(ds, folder, "train", 60000)
        chapter5(TrainData(x60, labels60, xt, lt), 3, 1)
    if args.hidden:
        hidden_layers(data, args.hidden_epochs)
    if args.end_to_end:
        names = ["book-ch8"] if args.end_to_end == "ch8" else list(book_listings.PRINTED)
        names = [n for n in names if n != "book-ch10"]  # --conv: its listing takes 48 minutes
        print("\nend to end: the book's listing with its tests, and `gdcli train --config`")
        print(f"{'config':<18}{'book s':>12}{'gdcli s':>12}{'speed-up':>10}"
              f"{'lines as book':>16}{'test acc':>12}")  # fmt: skip
        for name in names:
            end_to_end(name, data, folder)
    if args.conv:
        conv_end_to_end(data, folder, args.conv)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    commands = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak memory (max RSS): this process (the listings) {peak:.0f} MiB; "
          f"the largest gdcli command {commands:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
