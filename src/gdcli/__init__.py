"""gdcli: the gradient descent of Grokking Deep Learning on MNIST, as a library and a CLI.

    import gdcli
    run = gdcli.train(alpha=0.01, epochs=10)
    gdcli.plot([run])

The API (train, load, evaluate, plot, weights_image, report, load_dataset, Run) lives in
gdcli/api.py and is imported on first use, so that `gdcli --help` does not pay for numpy.
"""

from __future__ import annotations

from gdcli.errors import GdcliError, UsageError

__version__ = "0.3.0"

# Nothing here imports typing, numpy or the API: the console entry (gdcli.entry) installs its
# signal handlers after importing this package, so what this costs is time Ctrl-C is Python's.
API = ("train", "load", "evaluate", "plot", "weights_image", "report", "load_dataset", "Run",
       "Report", "Diverged", "configure", "configs", "read_digit")  # fmt: skip
__all__ = ["GdcliError", "UsageError", "__version__", *API]


def __getattr__(name: str) -> object:
    if name in API:
        from gdcli import api

        return getattr(api, name)
    raise AttributeError(f"module 'gdcli' has no attribute {name!r}")
