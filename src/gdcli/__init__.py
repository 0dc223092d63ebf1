"""gdcli: the gradient descent of Grokking Deep Learning, chapter 5, on MNIST."""

__version__ = "0.1.0"
