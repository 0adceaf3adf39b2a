"""The unrolled network as text, like the seed's figure: T cells per layer and direction,
x_t arrows in, h arrows between the steps, y out, every arrow labelled with its size.

A whole network is drawn bottom up as it computes: the token ids x_t and the embedding's
lookups e_t, each recurrent layer (one row per direction, its own state size on the links),
each dense layer before the output one as a row of boxes showing its activation, on every
step or the last one only, and y on top.  An encoder-decoder draws the decoder's block above
the encoder's, each over its own steps, the final states the encoder hands on (h, or h and c
for an LSTM) labelled where they leave and where they enter.

Sizes come from the network's layers (the same widths the shape list reads); sequences
longer than 8 steps fold as "···" (sooner, to fit a terminal's width), stacks deeper than
4 layers fold between their second layer and their top one, so a drawing has the same
size for any T and L.  Standard library only.
"""

from __future__ import annotations

from typing import NamedTuple

from ..model.naming import Letters, times
from ..model.network import Dense, Embedding, Network, Recurrent, Stage
from ..model.spec import ModelSpec

FOLD_AFTER = 8
FOLD_LAYERS_AFTER = 4
CELL_NAMES = {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}
#: What a dense layer's boxes show: its activation (identity as Keras calls it).
BOX_NAMES = {"identity": "linear"}


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


def diagram(model: ModelSpec | Network, outputs: str = "last", width: int | None = None) -> str:
    """The diagram, one line per string, ending in a newline.

    A seed-style spec's output layer runs at the last step or, with ``outputs="all"``, at
    every step (a network says where each of its dense layers runs).  Within ``width``
    columns if it can: fewer steps are drawn (down to 1, (fold), T), and the sentences
    wrap; without a width, up to 8 steps.
    """
    if isinstance(model, ModelSpec):
        network = model.network()
        if outputs == "all" and model.has_output_layer:
            stage = network.stages[0]
            head = stage.layers[-1].replace(steps="all")
            network = network.replace(stages=(stage.replace(layers=(*stage.layers[:-1], head)),))
    else:
        network = model
    for columns in (FOLD_AFTER, 5, 3, 1):
        drawing = _Drawing(network, columns, width)
        if width is None or drawing.widest <= width:
            break
    return "".join(line + "\n" for line in drawing.lines)


# A drawing is planned as rows, top down, then placed on a grid of columns.


class _Labels(NamedTuple):
    """Texts centred on columns, and a note after them."""

    texts: dict[int, str]
    note: str = ""


class _Arrows(NamedTuple):
    """Arrows up at the columns."""

    columns: list[int]


class _Cells(NamedTuple):
    """One direction of one recurrent layer: its cells and the state arrows."""

    label: str
    forward: bool
    size: int
    before: str
    after: str


class _Boxes(NamedTuple):
    """One layer that is not recurrent, as a box at each of its columns."""

    label: str
    text: str
    columns: list[int]


class _Sentence(NamedTuple):
    """A line of text, wrapped to the width."""

    text: str


_Row = _Labels | _Arrows | _Cells | _Boxes | _Sentence


class _Grid:
    """Columns of cells at fixed centres, and rows of text written at positions."""

    def __init__(self, columns: list[int | None], cell: int, pitch: int, margin: int) -> None:
        self.columns, self.cell, self.pitch = columns, cell, pitch
        self.centers = [margin + k * pitch + cell // 2 for k in range(len(columns))]

    def row(self, *placed: tuple[int, str]) -> str:
        chars = [" "] * max(at + len(text) for at, text in placed)
        for at, text in placed:
            chars[at : at + len(text)] = text
        return "".join(chars).rstrip()

    def centred(self, texts: dict[int, str]) -> str:
        """Texts centred on the given columns."""
        return self.row(*((self.centers[k] - len(t) // 2, t) for k, t in texts.items()))

    def draw(self, row: _Labels | _Arrows | _Cells | _Boxes) -> str:
        """One row of the grid as a line."""
        if isinstance(row, _Labels):
            return self.centred(row.texts) + row.note
        if isinstance(row, _Arrows):
            return self.centred(dict.fromkeys(row.columns, "▲"))
        if isinstance(row, _Boxes):
            boxes = ((self.centers[k] - len(row.text) // 2, row.text) for k in row.columns)
            return self.row((0, row.label), *boxes)
        return self._cells(row)

    def _link(self, size: int, forward: bool) -> str:
        """The arrow from one cell to the next, the state's size in the middle."""
        text = f"({size})"
        pad = self.pitch - self.cell - 1 - len(text)
        line = "─" * (pad // 2) + text + "─" * (pad - pad // 2)
        return f"{line}▶" if forward else f"◀{line}"

    def _cells(self, row: _Cells) -> str:
        placed = [(0, row.label)]
        for k, step in enumerate(self.columns):
            start = self.centers[k] - self.cell // 2
            if step is None:
                placed.append((start, "···".center(self.cell)))
                continue
            placed.append((start, f"[t={step}]".center(self.cell)))
            if k + 1 < len(self.columns) and self.columns[k + 1] is not None:
                placed.append((start + self.cell, self._link(row.size, row.forward)))
        if row.before:
            placed.append((self.centers[0] - self.cell // 2 - len(row.before), row.before))
        if row.after:
            placed.append((self.centers[-1] - self.cell // 2 + self.cell, row.after))
        return self.row(*placed)


class _Drawing:
    """The lines of one network's drawing with at most ``columns`` steps a stage, and the
    length of the widest line that does not wrap (``widest``).
    """

    def __init__(self, network: Network, columns: int, width: int | None) -> None:
        plans = [_Plan(network, s, columns) for s in range(len(network.stages))]
        margin = max(plan.margin() for plan in plans)
        self.lines = _wrapped(_title(network), width)
        self.widest = 0
        for plan in reversed(plans):
            grid = _Grid(plan.columns, plan.cell, plan.pitch(), margin)
            for row in plan.rows:
                if isinstance(row, _Sentence):
                    self.lines += _wrapped(row.text, width)
                    continue
                line = grid.draw(row)
                self.widest = max(self.widest, len(line))
                self.lines.append(line)


def _title(network: Network) -> str:
    names: list[str] = []
    for stage in network.stages:
        for layer in stage.recurrent:
            name = CELL_NAMES[layer.cell]
            name += f" ({layer.activation})" if layer.activation != "tanh" else ""
            names += [name] if name not in names else []
    first, *more = network.stages
    t = first.timesteps
    over = f"T = {t} step{'s' if t != 1 else ''}"
    if more:
        over += f" (encoder) and Td = {more[0].timesteps} (decoder)"
    cells = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{cells} cells unrolled over {over}; arrows carry the sizes they hand on"


def _wrapped(sentence: str, width: int | None) -> list[str]:
    if width is None or len(sentence) <= width:
        return [sentence]
    import textwrap

    return textwrap.wrap(sentence, width, break_long_words=False, break_on_hyphens=False)


def _state(layer: Recurrent, sizes: bool = True) -> str:
    """The final state one direction of a recurrent layer hands on, with its sizes."""
    if layer.cell != "lstm":
        return f"h ({layer.state_size})" if sizes else "h"
    if not sizes:
        return "h, c"
    if layer.proj_size:
        return f"h ({layer.proj_size}), c ({layer.hidden_size})"
    return f"h, c ({layer.hidden_size})"


class _Plan:
    """The rows of one stage, top down, and the room its grid needs."""

    def __init__(self, network: Network, s: int, columns: int) -> None:
        self.network, self.s = network, s
        self.stage: Stage = network.stages[s]
        self.letters = Letters(network, s)
        self.d = "d" if s == 1 else ""  # a decoder's own letters: xd_t, Vd
        self.columns = steps(self.stage.timesteps, columns)
        self.cell = len(f"[t={self.stage.timesteps}]")
        self.drawn = [k for k, step in enumerate(self.columns) if step is not None]
        self.mixed = len({layer.cell for st in network.stages for layer in st.recurrent}) > 1
        self.rows: list[_Row] = []
        if network.encoder_decoder:
            self.rows.append(_Sentence(_STAGE_HEADERS[s].format(t=self.stage.timesteps)))
        depths, depth = [], 0
        for layer in self.stage.layers:
            depths.append(depth)
            depth += layer.stack if isinstance(layer, Recurrent) else 0
        for k in reversed(range(len(self.stage.layers))):
            layer = self.stage.layers[k]
            if isinstance(layer, Dense):
                self._dense(k, layer, depths[k])
            elif isinstance(layer, Recurrent):
                self._recurrent(k, layer, depths[k])
            else:
                self._embedding(layer)

    def pitch(self) -> int:
        """Columns from one step's centre to the next: room for links, labels and boxes."""
        room = [
            self.cell + len(f"─({row.size})─") + 1 if isinstance(row, _Cells) else len(row.text) + 2
            for row in self.rows
            if isinstance(row, (_Cells, _Boxes))
        ]
        for row in self.rows:
            if isinstance(row, _Labels):
                room += [len(text) + 1 for text in row.texts.values()]
        return max(room)

    def margin(self) -> int:
        """Columns left of the first cell: room for the row labels and the arrows in."""
        room = [
            max(len("layer 9 ←  "), len(row.label) + 1) + max(len("h_0 ─▶ "), len(row.before))
            if isinstance(row, _Cells)
            else len(row.label) + 2 + len(row.text) // 2 - self.cell // 2
            for row in self.rows
            if isinstance(row, (_Cells, _Boxes))
        ]
        return max(room)

    def _before(self, k: int, kind: type[Recurrent | Dense]) -> int:
        """How many layers of ``kind`` come before layer ``k``: its place among them."""
        return sum(isinstance(layer, kind) for layer in self.stage.layers[:k])

    def _inputs(self, k: int, depth: int, columns: list[int], arrows: bool = True) -> None:
        """The arrows into layer ``k`` at ``columns``, labelled with what they carry."""
        if arrows:
            self.rows.append(_Arrows(columns))
        stage, d = self.stage, self.d
        if k == 0 or isinstance(stage.layers[k - 1], Embedding):
            embedding = stage.embedding
            letter, size = "e" if k else "x", stage.features
            if embedding is not None and not k:  # token ids, one-hot
                size = embedding.vocab_size
            texts = {c: f"{letter}{d}_{self.columns[c]} ({size})" for c in columns}
            self.rows.append(_Labels(texts))
            return
        below = stage.layers[k - 1]
        if isinstance(below, Recurrent):
            self.rows.append(self._handed_up(k - 1, below, depth - 1, columns))
            return
        assert isinstance(below, Dense)
        j = self._before(k - 1, Dense)
        note = f"   {self.letters.dense(j)} from dense {j + 1}"
        self.rows.append(_Labels(dict.fromkeys(columns, f"({below.units})"), note))

    def _handed_up(self, k: int, layer: Recurrent, depth: int, columns: list[int]) -> _Labels:
        """What stacked layer ``depth`` of layer ``k`` hands up: D·H (D·P) features a step."""
        state = self.letters.recurrent(self._before(k, Recurrent), "P" if layer.proj_size else "H")
        note = f"   {times(layer.directions, state)} from layer {depth}"
        return _Labels(dict.fromkeys(columns, f"({layer.width})"), note)

    def _dense(self, k: int, layer: Dense, depth: int) -> None:
        j = self._before(k, Dense)
        columns = self.drawn if layer.steps == "all" else [len(self.columns) - 1]
        below = self.stage.layers[k - 1]
        if j == len(self.stage.dense) - 1:  # the output layer: the arrows to y
            if layer.steps == "all":
                texts = {c: f"y_{self.columns[c]} ({layer.units})" for c in columns}
            else:
                texts = {columns[0]: f"y ({layer.units})"}
            said = [f"{layer.activation} over its {layer.units:,} units"]
            said = said if layer.activation != "identity" else []
            embedding = self.stage.embedding
            if layer.tie and embedding is not None:
                said.append(
                    f"its weight is the embedding's {embedding.vocab_size:,} x {embedding.dim:,} "
                    "table, tied (stored once)"
                )
            if said:
                self.rows.append(_Sentence("y: " + "; ".join(said)))
            self.rows += [_Labels(texts), _Arrows(columns)]
            if isinstance(below, Dense):
                self._inputs(k, depth, columns, arrows=False)
            name = "y"
        else:
            text = f"[{BOX_NAMES.get(layer.activation, layer.activation)}]"
            name = f"dense {j + 1}"
            self.rows.append(_Boxes(name, text, columns))
            self._inputs(k, depth, columns)
        if layer.steps == "last" and isinstance(below, Recurrent) and below.bidirectional:
            self.rows.append(
                _Sentence(f"{name} reads h_T of the forward direction and h_1 of the backward one")
            )

    def _recurrent(self, k: int, layer: Recurrent, first: int) -> None:
        sent, taken = _state(layer), _state(layer, sizes=False)
        arrows = {  # (forward, stages) -> what comes in before the first cell, out after the last
            (True, 1): ("h_0 ─▶ ", ""),
            (False, 1): ("", " ◀─ h_0"),
            (True, 2): (("h_0 ─▶ ", f" ═▶ {sent}"), (f"{taken} ═▶ ", ""))[self.s],
            (False, 2): ((f"{taken} ◀═ ", " ◀─ h_0"), ("", f" ◀═ {taken}"))[self.s],
        }
        for sub in reversed(layers(layer.stack)):
            if sub is None:
                self.rows.append(
                    _Sentence(
                        f"  ⋮   layers {first + 2:,} to {first + layer.stack - 2:,}: "
                        f"the same as layer {first + 1}"
                    )
                )
                continue
            depth = first + sub
            name = f"{layer.cell} layer {depth}" if self.mixed else f"layer {depth}"
            for forward in (False, True) if layer.bidirectional else (True,):
                before, after = arrows[forward, len(self.network.stages)]
                label = f"{name} {'→' if forward else '←'}"
                self.rows.append(_Cells(label, forward, layer.state_size, before, after))
            if sub:
                self.rows += [_Arrows(self.drawn), self._handed_up(k, layer, depth - 1, self.drawn)]
            else:
                self._inputs(k, depth, self.drawn)

    def _embedding(self, layer: Embedding) -> None:
        self.rows.append(_Boxes("embedding", "[lookup]", self.drawn))
        self._inputs(0, 0, self.drawn)
        d, v, e = self.d, f"{layer.vocab_size:,}", f"{layer.dim:,}"
        self.rows.append(
            _Sentence(
                f"x{d}_t: token ids, one-hot (V{d} = {v}); e{d}_t: their rows of the "
                f"V{d} x E{d} = {v} x {e} embedding"
            )
        )


_STAGE_HEADERS = (
    "encoder, over T = {t:,} steps; its layers' final states (═▶) start the decoder's above:",
    "decoder, over Td = {t:,} steps:",
)
