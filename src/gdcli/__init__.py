"""gdcli: the gradient descent of Grokking Deep Learning on MNIST, chapters 5, 8 and 9."""

__version__ = "0.2.0"
