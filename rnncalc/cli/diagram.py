"""``rnncalc diagram``: the unrolled network, drawn like the seed's figure."""

from __future__ import annotations

from typing import Any

import click

from .model import build_network, network_options
from .options import (
    command,
    refuse_if_given,
)
from .streams import emit
from .terminal import output_width


@command
@network_options
@click.pass_context
def diagram(ctx: click.Context, /, **model: Any) -> None:
    """Draw the network unrolled over its timesteps, every arrow labelled with its size.

    One row of cells per recurrent layer and direction, x_t arrows in at the bottom, h
    arrows from step to step (leftwards for a backward direction), y at the top: at the
    last step, or at every step with --outputs all.  An embedding (--vocab-size) is a row
    of lookups under the first layer, dense layers before the output one (-O 64/10) rows
    of boxes showing their activation; an encoder-decoder (--model) draws the decoder
    above the encoder, the final states handed over labelled.  Sequences longer than 8
    steps fold as "···", stacks deeper than 4 layers as "⋮".

    \b
    Examples:
      rnncalc diagram                               # the seed's figure: T=3, I=4, H=3, O=1
      rnncalc diagram -c lstm -L 2 --bidirectional -T 20
      rnncalc diagram -T 5 --outputs all
      rnncalc diagram --vocab-size 10000 -I 650 -H 650 -L 2 -c lstm --tie --outputs all
      rnncalc diagram -c lstm -I 10 -H 64/32 -O 64/10 --output-activation softmax
      rnncalc diagram --model seq2seq.toml
    """
    from ..render.diagram import diagram as draw_diagram

    network = build_network(ctx, model)
    if not network.output.dense:
        refuse_if_given(ctx, "outputs", "-O 0 leaves no output layer to draw")
    for name in ("notation", "bias", "reset_after"):
        refuse_if_given(ctx, name, "the drawing shows sizes, not how the weights are written")
    if not any(layer.proj_size for stage in network.stages for layer in stage.recurrent):
        # the convention only matters for PyTorch's projection
        refuse_if_given(ctx, "convention", "the drawing shows sizes, not how weights are named")
    emit(draw_diagram(network, width=output_width()))
