"""The mathematics: the model, backpropagation, the engines that run an epoch, training."""
