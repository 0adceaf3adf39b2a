"""The unrolled network as text, like the seed's figure: T cells per layer and direction,
x_t arrows in, h arrows between the steps, y out, every arrow labelled with its size.

Sizes come from the spec (the same D·H the shape list gives the next layer); sequences
longer than 8 steps fold as "···" (sooner, to fit a terminal's width), stacks deeper than
4 layers fold between layer 1 and the top one, so a drawing has the same size for any T
and L.  Standard library only.
"""

from __future__ import annotations

from ..model.shapes import layer_inputs
from ..model.spec import ModelSpec

FOLD_AFTER = 8
FOLD_LAYERS_AFTER = 4
CELL_NAMES = {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def steps(timesteps: int, columns: int = FOLD_AFTER) -> list[int | None]:
    """The steps drawn: all T if at most ``columns``, else the first and last around a fold:
    1, 2, (fold), T-1, T, or 1, (fold), T when even that is too wide.
    """
    if timesteps <= columns:
        return list(range(1, timesteps + 1))
    side = 2 if columns >= 5 else 1
    return [*range(1, side + 1), None, *range(timesteps - side + 1, timesteps + 1)]


def layers(count: int) -> list[int | None]:
    """The layers drawn, bottom up: all of them, or 0, 1, (fold), L-1 for deep stacks."""
    if count <= FOLD_LAYERS_AFTER:
        return list(range(count))
    return [0, 1, None, count - 1]


class _Grid:
    """Columns of cells at fixed centres, and rows of text written at positions."""

    def __init__(self, spec: ModelSpec, columns: int) -> None:
        self.columns = steps(spec.timesteps, columns)
        self.cell = len(f"[t={spec.timesteps}]")
        self.link = f"─({spec.state_size})─"
        label = max(len("layer 9 ←  "), len(f"layer {spec.layers - 1} ← "))
        margin = label + len("h_0 ─▶ ")
        pitch = self.cell + len(self.link) + 1
        self.centers = [margin + k * pitch + self.cell // 2 for k in range(len(self.columns))]
        self.width = self.centers[-1] + self.cell + len(" ◀─ h_0")

    def row(self, *placed: tuple[int, str]) -> str:
        chars = [" "] * self.width
        for at, text in placed:
            chars[at : at + len(text)] = text
        return "".join(chars[: self.width]).rstrip()

    def centred(self, texts: dict[int, str]) -> str:
        """Texts centred on the given columns."""
        return self.row(*((self.centers[k] - len(t) // 2, t) for k, t in texts.items()))

    def drawn(self) -> list[int]:
        """Indices of the columns that show a step (not the fold)."""
        return [k for k, step in enumerate(self.columns) if step is not None]


def diagram(spec: ModelSpec, outputs: str = "last", width: int | None = None) -> str:
    """The diagram, one line per string, ending in a newline.

    Within ``width`` columns if it can: fewer steps are drawn (down to 1, (fold), T), and
    the sentences wrap; without a width, up to 8 steps.
    """
    for columns in (FOLD_AFTER, 5, 3, 1):
        grid = _Grid(spec, columns)
        if width is None or grid.width <= width:
            break
    title = (
        f"{CELL_NAMES[spec.cell]} cells unrolled over T = {spec.timesteps} "
        f"step{'s' if spec.timesteps != 1 else ''}; arrows carry the sizes they hand on"
    )
    lines = _wrapped(title, width)
    if spec.has_output_layer:
        lines += _outputs(spec, grid, outputs, width)
    for layer in reversed(layers(spec.layers)):
        if layer is None:
            lines += _wrapped(f"  ⋮   layers 2 to {spec.layers - 2:,}: the same as layer 1", width)
            continue
        for direction in ("backward", "forward") if spec.bidirectional else ("forward",):
            lines.append(_cells(grid, layer, direction))
        lines += _inputs(spec, grid, layer)
    return "".join(line + "\n" for line in lines)


def _wrapped(sentence: str, width: int | None) -> list[str]:
    if width is None or len(sentence) <= width:
        return [sentence]
    import textwrap

    return textwrap.wrap(sentence, width, break_long_words=False, break_on_hyphens=False)


def _outputs(spec: ModelSpec, grid: _Grid, outputs: str, width: int | None) -> list[str]:
    o = spec.output_size
    if outputs == "all":
        labels = {k: f"y_{grid.columns[k]} ({o})" for k in grid.drawn()}
    else:
        labels = {len(grid.columns) - 1: f"y ({o})"}
    lines = [grid.centred(labels), grid.centred(dict.fromkeys(labels, "▲"))]
    if spec.bidirectional and outputs == "last":
        lines += _wrapped("y reads h_T of the forward direction and h_1 of the backward one", width)
    return lines


def _cells(grid: _Grid, layer: int, direction: str) -> str:
    forward = direction == "forward"
    placed = [(0, f"layer {layer} " + ("→" if forward else "←"))]
    for k, step in enumerate(grid.columns):
        start = grid.centers[k] - grid.cell // 2
        if step is None:
            placed.append((start, "···".center(grid.cell)))
            continue
        placed.append((start, f"[t={step}]".center(grid.cell)))
        if k + 1 < len(grid.columns) and grid.columns[k + 1] is not None:
            placed.append((start + grid.cell, f"{grid.link}▶" if forward else f"◀{grid.link}"))
    if forward:
        placed.append((grid.centers[0] - grid.cell // 2 - len("h_0 ─▶ "), "h_0 ─▶ "))
    else:
        placed.append((grid.centers[-1] - grid.cell // 2 + grid.cell, " ◀─ h_0"))
    return grid.row(*placed)


def _inputs(spec: ModelSpec, grid: _Grid, layer: int) -> list[str]:
    features, letter = layer_inputs(spec, layer)
    drawn = grid.drawn()
    if layer == 0:
        labels = {k: f"x_{grid.columns[k]} ({features})" for k in drawn}
        note = ""
    else:
        labels = dict.fromkeys(drawn, f"({features})")
        note = f"   {letter} from layer {layer - 1}"
    return [grid.centred(dict.fromkeys(drawn, "▲")), grid.centred(labels) + note]
