"""``rnncalc diagram``: the unrolled network, drawn like the seed's figure."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    command,
    model_options,
    model_spec,
    output_width,
    outputs_option,
    refuse_if_given,
    size_options,
)
from .streams import emit


@command
@size_options
@model_options
@outputs_option("last: y at the last step (many-to-one); all: y at every step.")
@click.pass_context
def diagram(ctx: click.Context, /, outputs: str, **model: Any) -> None:
    """Draw the network unrolled over its timesteps, every arrow labelled with its size.

    One row of cells per layer and direction, x_t arrows in at the bottom, h arrows from
    step to step (leftwards for a backward direction), y at the top: at the last step, or
    at every step with --outputs all. Sequences longer than 8 steps fold as "···".

    \b
    Examples:
      rnncalc diagram                               # the seed's figure: T=3, I=4, H=3, O=1
      rnncalc diagram -c lstm -L 2 --bidirectional -T 20
      rnncalc diagram -T 5 --outputs all
    """
    from ..render.diagram import diagram as draw_diagram

    spec = model_spec(ctx, **model)
    if not spec.has_output_layer:
        refuse_if_given(ctx, "outputs", "-O 0 leaves no output layer to draw")
    for name in ("notation", "bias", "reset_after"):
        refuse_if_given(ctx, name, "the drawing shows sizes, not how the weights are written")
    if not spec.proj_size:  # the convention only matters for PyTorch's projection
        refuse_if_given(ctx, "convention", "the drawing shows sizes, not how weights are named")
    emit(draw_diagram(spec, outputs, output_width()))
