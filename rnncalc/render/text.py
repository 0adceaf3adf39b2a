"""What every renderer shares: the one-line description of a model and ``draw``, which lays
out a header, a table and the notes around it (JSON is :mod:`.jsontext`).

No arithmetic happens here beyond formatting.  rich is imported only inside the functions
that print rich text, so the JSON and CSV paths start as fast as click itself.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..model.network import Layer, Network
    from ..model.spec import ModelSpec
    from .tables import Table

    #: What comes around a table: rich text, or another table.
    Note = RenderableType | Table

CELL_TITLES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def describe(model: ModelSpec | Network, what: str = "Parameters") -> str:
    """One line naming the sizes and the model, e.g. for a table's title:
    ``Parameters for T=3, I=4, H=3, O=1: vanilla RNN, seed convention``, or for a whole
    network ``Parameters for T=100: embedding 20000x128 -> LSTM 64 -> dense 10, keras
    convention``.
    """
    from ..model.spec import ModelSpec

    spec = model if isinstance(model, ModelSpec) else ModelSpec.from_network(model)
    if spec is None:
        assert not isinstance(model, ModelSpec)
        return f"{what} for {network_words(model)}"
    sizes = f"T={spec.timesteps}, I={spec.input_size}, H={spec.hidden_size}, O={spec.output_size}"
    return f"{what} for {sizes}: {model_words(spec)}"


def network_words(network: Network) -> str:
    """A whole network in words: ``T=100: embedding 20000x128 -> LSTM 64 -> dense 10,
    keras convention``; an encoder-decoder's two stages separated by ``;``.
    """
    parts = []
    for s, stage in enumerate(network.stages):
        sizes = f"T={stage.timesteps}" + (
            f", I={stage.input_size}" if stage.input_size is not None else ""
        )
        layers = " -> ".join(layer_words(layer) for layer in stage.layers)
        label = ("encoder ", "decoder ")[s] if network.encoder_decoder else ""
        parts.append(f"{label}{sizes}: {layers}")
    return "; ".join(parts) + f", {network.convention} convention"


def layer_words(layer: Layer) -> str:
    """One layer in words: ``embedding 20000x128``, ``2 x bidirectional LSTM 64``."""
    from ..model.network import Embedding, Recurrent

    if isinstance(layer, Embedding):
        return f"embedding {layer.vocab_size}x{layer.dim}"
    if isinstance(layer, Recurrent):
        words = ("bidirectional " if layer.bidirectional else "") + CELL_TITLES[layer.cell]
        words = f"{layer.stack} x {words}" if layer.stack > 1 else words
        extras = [f"P={layer.proj_size}"] if layer.proj_size else []
        extras += [] if layer.bias else ["no bias"]
        extras += [] if layer.reset_after else ["no reset_after"]
        extras += [layer.activation] if layer.activation != "tanh" else []
        return f"{words} {layer.hidden_size}" + (f" ({', '.join(extras)})" if extras else "")
    words = f"dense {layer.units}" + (" tied" if layer.tie else "")
    extras = [] if layer.activation == "identity" else [layer.activation]
    extras += ["every step"] if layer.steps == "all" else []
    extras += [] if layer.bias else ["no bias"]
    return words + (f" ({', '.join(extras)})" if extras else "")


def model_words(spec: ModelSpec) -> str:
    """The model in words: ``LSTM, 2 layers, bidirectional, pytorch convention``."""
    parts = [CELL_TITLES[spec.cell]]
    if spec.layers > 1:
        parts.append(f"{spec.layers} layers")
    if spec.bidirectional:
        parts.append("bidirectional")
    parts.append(f"{spec.convention} convention")
    if spec.notation == "concat":
        parts.append("concat notation")
    if spec.proj_size:
        parts.append(f"P={spec.proj_size}")
    if spec.cell == "gru" and spec.convention == "keras":
        parts.append("reset_after" if spec.reset_after else "no reset_after")
    if not spec.bias:
        parts.append("no bias")
    return ", ".join(parts)


def draw(
    table: Table,
    notes: Sequence[Note],
    *,
    color: bool,
    width: int | None,
    header: RenderableType | None = None,
    title: str | None = None,
) -> str:
    """Draw an optional header, the table (its title wrapped to its width), then the notes.

    Without a width (output is not a terminal) the tables keep their natural width, so no
    column ever wraps, and the header and notes wrap at that width (at least 80).  With a
    width, the tables fit it (see :mod:`rnncalc.render.tables`) and a note names the columns left
    out, if any.
    """
    from rich.text import Text

    from .tables import Table, cell_width

    lines, dropped = table.draw(width, color)
    table_width = cell_width(lines[0])
    wrap = width if width is not None else max(80, table_width)
    parts = []
    if header is not None:
        parts.append(_printed(header, wrap, color))
    if title is not None:
        parts.append(_printed(Text(title, style="italic"), table_width, color))
    parts.append("\n".join(lines) + "\n")
    for note in notes:
        if isinstance(note, Table):
            note_lines, note_dropped = note.draw(width, color)
            parts.append("\n".join(note_lines) + "\n")
            dropped += note_dropped
        else:
            parts.append(_printed(note, wrap, color))
    if dropped:
        left_out = Text(
            f"Left out to fit {width} columns: {', '.join(dropped)}; widen the terminal, or "
            "see every column with --format json.",
            style="dim",
        )
        parts.append(_printed(left_out, wrap, color))
    return "".join(line.rstrip() + "\n" for line in "".join(parts).splitlines())


def _printed(renderable: RenderableType, width: int, color: bool) -> str:
    """Rich text wrapped at ``width``, with ANSI styles when ``color``."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
    )
    console.print(renderable)
    return buffer.getvalue()
