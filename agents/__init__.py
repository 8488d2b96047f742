"""Brains and their training: RecurrentPPO with a fast LSTM policy, presets, and the training loop."""
