"""NumPy and compiled kernels: vanilla RNN, LSTM and GRU layers, stacked and bidirectional.

* :mod:`.assemble` reads any convention's weights into one canonical form, for a whole
  network (embeddings, recurrent layers, dense layers) or the seed-style spec;
* :mod:`.reference` runs the equations as written, step by step, to be read and to check;
* :mod:`.fast` runs them fast (its docstring numbers why), with :mod:`.threads`, and names
  the buffers it allocates; :mod:`.compiled` runs its steps as numba kernels, and
  :mod:`.engines` says which of the two runs (numba is imported only then);
* :mod:`.walk` runs a whole network stage by stage, its recurrent layers by either pass;
* :mod:`.activations` holds f_h and f_y, :mod:`.types` the shared type names;
* ``rnncalc forward`` is :mod:`.run`: its options and report (:mod:`.results`), its random
  weights (:mod:`.weights`), its checks (:mod:`.checks`) and its memory estimate
  (:mod:`.memory`, from the fast pass's own buffer plan).
"""

from __future__ import annotations

from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .assemble import (
    Canonical,
    DirectionParams,
    Network,
    assemble,
    assemble_network,
    gru_resets_after,
)
from .fast import Workspace, network_forward, stack_forward
from .reference import stepwise_forward, stepwise_stack
from .threads import batch_chunks
from .types import Advance, Array, Form

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Advance",
    "Array",
    "Canonical",
    "DirectionParams",
    "Form",
    "Network",
    "Workspace",
    "assemble",
    "assemble_network",
    "batch_chunks",
    "gru_resets_after",
    "network_forward",
    "stack_forward",
    "stepwise_forward",
    "stepwise_stack",
]
