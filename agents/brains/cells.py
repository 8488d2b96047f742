"""The brain's recurrent cells: the LSTM, a GRU, and the vanilla (tanh) RNN of the motor-control text, optionally
leaky, as in the continuous-time RNNs of computational neuroscience.

| cell   | update                                                                                          |
|--------|-------------------------------------------------------------------------------------------------|
| `lstm` | ``torch.nn.LSTM``: gates, a hidden state ``h`` and a cell state ``c``                            |
| `gru`  | ``torch.nn.GRU``: update and reset gates, a hidden state ``h``                                   |
| `rnn`  | ``h_t = (1 - a) h_{t-1} + a tanh(W_xh x_t + W_hh h_{t-1} + b_h)``; ``a`` is ``leak`` (1: vanilla) |

sb3-contrib's recurrent policy and rollout buffer carry an LSTM's ``(h, c)`` pair. The GRU and the RNN keep that
interface, ``cell(sequence, (h, c)) -> (output, (h, c))`` (no state: zeros), and carry ``c`` through unchanged: it
starts at zero and stays zero, so the buffer, the episode-start resets and every caller work as they do for the LSTM.
Each cell also has ``step(inputs, states)``, one time step through ``torch``'s fused cell functions (rollouts call it
once per env step). A sequence runs as one fused ``nn.GRU`` / ``nn.RNN`` call; a leaky RNN (``leak < 1``) has no
fused kernel, so its sequences step through time, with every input projection computed in one product first.
"""

from __future__ import annotations

import torch as th
from torch import nn

from agents.config import CELLS

States = tuple[th.Tensor, th.Tensor]


def _zeros(module: nn.RNNBase, sequence: th.Tensor) -> States:
    shape = (module.num_layers, sequence.shape[1], module.hidden_size)
    return sequence.new_zeros(shape), sequence.new_zeros(shape)


def _weights(module: nn.RNNBase, layer: int) -> tuple[th.Tensor, ...]:
    names = ["weight_ih", "weight_hh", *(["bias_ih", "bias_hh"] if module.bias else [])]
    return tuple(getattr(module, f"{name}_l{layer}") for name in names)


class GRU(nn.GRU):
    """``nn.GRU`` behind ``nn.LSTM``'s interface: the state travels as ``(h, c)``, ``c`` unused."""

    def forward(self, sequence: th.Tensor, states: States | None = None) -> tuple[th.Tensor, States]:  # type: ignore[override]
        states = _zeros(self, sequence) if states is None else states
        output, hidden = super().forward(sequence, states[0].contiguous())
        return output, (hidden, states[1])

    def step(self, inputs: th.Tensor, states: States) -> tuple[th.Tensor, States]:
        """One time step, ``inputs`` ``(batch, input_size)``, through ``torch.gru_cell`` layer by layer."""
        hidden, layer_input = [], inputs
        for layer in range(self.num_layers):
            layer_input = th.gru_cell(layer_input, states[0][layer], *_weights(self, layer))
            hidden.append(layer_input)
        return layer_input, (th.stack(hidden), states[1])


class RNN(nn.RNN):
    """The tanh RNN ``h <- (1 - leak) h + leak tanh(W_xh x + W_hh h + b)`` behind ``nn.LSTM``'s interface.

    Args:
        leak: The fraction of the state replaced each step, in ``(0, 1]``: 1 is the vanilla RNN, smaller values a
            discretised continuous-time RNN with time constant ``dt / leak``.
        *args, **kwargs: As for ``torch.nn.RNN`` (``nonlinearity`` is tanh, ``batch_first`` unsupported).
    """

    def __init__(self, *args, leak: float = 1.0, **kwargs) -> None:
        if not 0.0 < leak <= 1.0:
            raise ValueError(f"leak must be in (0, 1], got {leak!r}")
        super().__init__(*args, nonlinearity="tanh", **kwargs)
        self.leak = float(leak)

    def forward(self, sequence: th.Tensor, states: States | None = None) -> tuple[th.Tensor, States]:  # type: ignore[override]
        states = _zeros(self, sequence) if states is None else states
        if self.leak == 1.0:
            output, hidden = super().forward(sequence, states[0].contiguous())
            return output, (hidden, states[1])
        hidden, layer_input = [], sequence
        for layer in range(self.num_layers):
            weight_ih, weight_hh, *biases = _weights(self, layer)
            drive = nn.functional.linear(layer_input, weight_ih, sum(biases) if biases else None)
            h, outputs = states[0][layer], []
            for t in range(drive.shape[0]):  # no fused kernel for a leaky RNN
                h = th.lerp(h, th.tanh(drive[t] + nn.functional.linear(h, weight_hh)), self.leak)
                outputs.append(h)
            hidden.append(h)
            layer_input = th.stack(outputs)
        return layer_input, (th.stack(hidden), states[1])

    def step(self, inputs: th.Tensor, states: States) -> tuple[th.Tensor, States]:
        """One time step, ``inputs`` ``(batch, input_size)``, through ``torch.rnn_tanh_cell`` layer by layer."""
        hidden, layer_input = [], inputs
        for layer in range(self.num_layers):
            h = states[0][layer]
            new = th.rnn_tanh_cell(layer_input, h, *_weights(self, layer))
            layer_input = new if self.leak == 1.0 else th.lerp(h, new, self.leak)
            hidden.append(layer_input)
        return layer_input, (th.stack(hidden), states[1])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, leak={self.leak}"


def make_cell(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *, leak: float = 1.0, **kwargs
) -> nn.Module:
    """A recurrent module of kind ``cell`` (one of :data:`CELLS`) with ``nn.LSTM``'s interface."""
    if cell == "lstm":
        if leak != 1.0:
            raise ValueError("leak is a setting of the rnn cell; an lstm has none")
        return nn.LSTM(input_size, hidden_size, num_layers=num_layers, **kwargs)
    if cell != "lstm":
        # Their single steps and the leaky RNN's loop are unidirectional, time-major and without dropout.
        lstm_only = ("dropout", "batch_first", "proj_size", "bidirectional")
        unsupported = [key for key in lstm_only if kwargs.get(key)]
        if unsupported:
            raise ValueError(f"a {cell} cell takes no {', '.join(unsupported)}; only an lstm does")
        kwargs = {key: value for key, value in kwargs.items() if key not in lstm_only}
    if cell == "gru":
        if leak != 1.0:
            raise ValueError("leak is a setting of the rnn cell; a gru has none")
        return GRU(input_size, hidden_size, num_layers=num_layers, **kwargs)
    if cell == "rnn":
        return RNN(input_size, hidden_size, num_layers=num_layers, leak=leak, **kwargs)
    raise ValueError(f"cell {cell!r} is not one of {', '.join(CELLS)}")


def cell_of(module: nn.Module) -> str:
    """The kind of a recurrent module: one of :data:`~agents.config.CELLS`."""
    for name, kind in (("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)):
        if isinstance(module, kind):
            return name
    raise TypeError(f"{type(module).__name__} is not a recurrent cell")
