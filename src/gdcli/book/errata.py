"""What it takes to print the book's MNIST numbers: its errata, and its log line.

The listings of chapters 8, 9 and 10 have mistakes that change the numbers they print. gdcli's own
training does the mathematics; each mistake is also a named erratum that a config can turn on
(key `errata`), and only the book's configs (configs/book-*.toml) do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RELU2DERIV = "relu2deriv"
DROPOUT_DERIV = "dropout-deriv"
BATCH_REPEAT = "batch-repeat"
BATCH_SQUARED = "batch-squared"
KERNEL_SIGN = "kernel-sign"
CONV_POSITIONS = "conv-positions"
DROPPED_TAIL = "dropped-tail"

ERRATA = {
    RELU2DERIV: "relu's derivative is `output >= 0`, true for every relu output (chapter 8): "
    "the hidden delta is never gated; the derivative is 1 where output > 0, else 0",
    DROPOUT_DERIV: "through dropout, the derivative is taken from the doubled output and the "
    "delta multiplied by the 0/1 mask (chapters 8, 9); the chain rule through "
    "out = 2 * mask * f(h) gives f'(h) * 2 * mask",
    BATCH_REPEAT: "the chapter-8 batch listing steps inside its per-example accuracy loop: "
    "batch_size updates per batch from one forward pass, each layer's delta from the weights "
    "above as they were just updated; the mathematics is one update per batch",
    BATCH_SQUARED: "the chapter-9 listing divides the output delta by batch_size * batch_size; "
    "the gradient of the mean over the batch divides it by batch_size",
    KERNEL_SIGN: "the chapter-10 listing steps its kernels with `kernels -= alpha * k_update` "
    "while its deltas are (target - output): gradient ascent on the kernels; descent adds "
    "alpha * patches.T @ (target - output) to them",
    CONV_POSITIONS: "the chapter-10 listing takes its patches at `range(28 - 3)`, 25 positions "
    "a row: the last row and column of pixels never enter a patch; a 3x3 kernel fits at "
    "28 - 3 + 1 = 26 positions a row",
    DROPPED_TAIL: "the chapter-10 listing trains int(1000 / 128) = 7 batches, 896 images, and "
    "divides its train accuracy by 1,000; the last, smaller batch of 104 images is a step too",
}

# The second seed's labs (book/labs.py): `gdcli examples --errata NAME`, not training configs.
LAST_RECORD_LOSS = "last-record-loss"
LAB_ERRATA = {
    LAST_RECORD_LOSS: "the backprop lab prints as its training loss the mean of (out - y)^2 "
    "over the training targets where out is the output for one record, the last of the "
    "epoch's loop (its forward pass runs on `x`, not on all the features); the training loss "
    "is the mean squared error over every training record",
}


def log_line(m: Mapping[str, Any]) -> str:
    """An epoch's figures (a history entry: epoch, train_error, train_accuracy, test_error and
    test_accuracy when tested) as the book's listings print them, e.g.
    " I:0 Train-Err:0.722 Train-Acc:0.537 Test-Err:0.601 Test-Acc:0.6488" (chapter 8's first
    listing; the others print the same figures in other orders).

    I is the book's iteration, counted from 0 (epoch - 1); errors are cut to 5 characters as
    the book's str(error)[0:5]; accuracies are the book's str(correct / n). The test figures
    appear only for an epoch that was tested; the validation figures (not the book's: a run
    with validation images) after them, in the same form.
    """
    line = f" I:{m['epoch'] - 1} Train-Err:{str(m['train_error'])[0:5]}"
    line += f" Train-Acc:{m['train_accuracy']}"
    if m.get("test_accuracy") is not None:
        line += f" Test-Err:{str(m['test_error'])[0:5]} Test-Acc:{m['test_accuracy']}"
    if m.get("val_accuracy") is not None:
        line += f" Val-Err:{str(m['val_error'])[0:5]} Val-Acc:{m['val_accuracy']}"
    return line
