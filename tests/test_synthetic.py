"""What the synthetic dataset guarantees the other tests (tests/synthetic.py)."""

import numpy as np
import pytest
import synthetic
from conftest import SYNTHETIC

from gdcli.config import TrainConfig
from gdcli.data.idx import verify
from gdcli.data.load import load_split
from gdcli.data.registry import DATASETS, get_dataset
from gdcli.nn.train import TrainData, train


@pytest.fixture(scope="module")
def data(synthetic_data_dir):
    x, labels = load_split(DATASETS["mnist"], synthetic_data_dir, "train")
    xt, lt = load_split(DATASETS["mnist"], synthetic_data_dir, "test")
    return TrainData(x, labels, xt, lt)


def test_deterministic(synthetic_content):
    assert synthetic.make_dataset() == synthetic_content


def test_mnist_like_images(data):
    assert data.x_train.shape == (1000, 784) and data.x_test.shape == (200, 784)
    assert np.bincount(data.labels_train).tolist() == [100] * 10
    assert np.bincount(data.labels_test).tolist() == [20] * 10
    assert (data.x_train == 0).mean() > 0.75  # a black background, as MNIST's (81% zeros)
    assert data.x_train.max() == 1.0
    assert (data.x_train.max(axis=0) == 0).sum() > 100  # pixels never lit, as MNIST's borders
    ink = (data.x_train**2).sum(axis=1)
    assert ink.min() > 5  # every image has a figure


def test_registry_entry_verifies_the_files(synthetic_files):
    ds = get_dataset(SYNTHETIC)
    assert ds.classes == tuple("0123456789") and ds.mirrors == ()
    for f in ds.files:
        verify(synthetic_files / f.gz_name, f.idx_bytes, f.sha256)


def test_learnable_and_weights_look_like_the_classes(data):
    """The book's run learns it far above chance in 10 epochs, and each class's weights
    correlate best with that class's mean image (as test_weights_io checks on MNIST)."""
    result = train(TrainConfig(epochs=10), data)
    assert result.diverged_at is None and result.history[-1].test_accuracy > 0.7
    w = result.network.layers[0].weights
    means = np.array([data.x_train[data.labels_train == d].mean(axis=0) for d in range(10)])
    corr = np.array([[np.corrcoef(w[:, d], means[e])[0, 1] for e in range(10)] for d in range(10)])
    assert (np.diag(corr) > 0).all()
    assert (corr.argmax(axis=1) == np.arange(10)).all()


def test_diverges_at_the_alpha_mnist_diverges_at(data):
    assert train(TrainConfig(alpha=0.1, epochs=10), data).diverged_at is not None
