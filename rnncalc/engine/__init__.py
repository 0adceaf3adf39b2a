"""NumPy kernels: vanilla RNN, LSTM and GRU layers, stacked and bidirectional.

* :mod:`.assemble` reads any convention's weights into one canonical form;
* :mod:`.reference` runs the equations as written, step by step, to be read and to check;
* :mod:`.fast` runs them fast (its docstring numbers why), with :mod:`.threads`, and names
  the buffers it allocates;
* :mod:`.activations` holds f_h and f_y, :mod:`.types` the shared type names;
* ``rnncalc forward`` is :mod:`.run`: its options and report (:mod:`.results`), its random
  weights (:mod:`.weights`), its checks (:mod:`.checks`) and its memory estimate
  (:mod:`.memory`, from the fast pass's own buffer plan).
"""

from __future__ import annotations

from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .assemble import DirectionParams, Network, assemble, gru_resets_after
from .fast import Workspace, network_forward
from .reference import stepwise_forward
from .threads import batch_chunks
from .types import Advance, Array, Form

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Advance",
    "Array",
    "DirectionParams",
    "Form",
    "Network",
    "Workspace",
    "assemble",
    "batch_chunks",
    "gru_resets_after",
    "network_forward",
    "stepwise_forward",
]
