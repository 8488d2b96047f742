"""The brain: the fast LSTM policy and algorithm, building and loading models, bundled brains, warm starts."""
