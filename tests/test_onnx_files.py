"""ONNX files: torch.onnx.export's files listed, recovered and proved with PyTorch's counts;
graphs rnncalc does not model refused in one line; damaged, lying and outside-pointing files
refused in one line, nothing else read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from rnncalc.formats import onnxfile
from rnncalc.formats.onnxfile import OnnxModel, read_onnx, read_onnx_array, survey_onnx
from rnncalc.formats.tensors import FormatError
from rnncalc.model import shapes
from rnncalc.model.modelfile import from_dict
from rnncalc.model.recover import Recovered, RecoveryError, Row
from rnncalc.model.recover_onnx import proof_onnx, recover_onnx

CHECKPOINTS = Path(__file__).parent / "reference" / "checkpoints"
EXPORTED = json.loads((CHECKPOINTS / "onnx_checkpoints.json").read_text())
LM = CHECKPOINTS / "onnx_lm.onnx"


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_exported_files_are_listed_recovered_and_proved(name: str) -> None:
    """tests/reference/make_onnx_checkpoints.py: the network PyTorch exported, its count."""
    expected = EXPORTED[name]
    model = survey_onnx(str(CHECKPOINTS / name))
    listing = model.listing
    assert listing.format == "onnx"
    assert listing.metadata["producer"].startswith("pytorch 2.13.0")
    dtypes = {"FLOAT": "float32"}
    found = [[t.name, t.dtype, list(t.shape)] for t in listing.tensors]
    assert found == [[n, dtypes[d], dims] for n, d, dims in expected["initializers"]]
    recovered = recover_onnx(model, 5)
    assert recovered.network == from_dict(expected["network"])
    rows = proof_onnx(recovered, {t.name: t.shape for t in listing.tensors})
    assert all(row.ok for row in rows)
    network = sum(w.count for w in shapes.rnn_weights(recovered.network))
    other = sum(t.count for t in listing.tensors if t.name in {o.name for o in recovered.other})
    assert network == expected["pytorch_parameters"] - other
    assert listing.total == expected["pytorch_parameters"]
    # every initializer the network uses is one proof row, and its count the row's tensors'
    assert {row.file_name for row in rows} == {t.name for t in listing.tensors} - {
        o.name for o in recovered.other
    }


def _rows(model: OnnxModel, recovered: Recovered) -> dict[str, Row]:
    return {
        row.name: row
        for row in proof_onnx(recovered, {t.name: t.shape for t in model.listing.tensors})
    }


def test_packed_tensors_are_named_and_the_convolution_is_other() -> None:
    model = survey_onnx(str(CHECKPOINTS / "onnx_conv_lstm.onnx"))
    recovered = recover_onnx(model, 5)
    assert [t.name for t in recovered.other] == ["conv.weight", "conv.bias"]
    rows = _rows(model, recovered)
    assert rows["bias_ih_l0 + bias_hh_l0"].predicted == (1, 40)
    assert rows["weight"].file_name == "linear.weight"
    notes = " ".join(recovered.notes)
    assert "ONNX's order (LSTM i, o, f, c" in notes
    assert "--outputs last" in notes  # the head reads h_n[-1]


def test_a_bidirectional_node_packs_both_directions() -> None:
    model = survey_onnx(str(CHECKPOINTS / "onnx_gru_bi.onnx"))
    rows = proof_onnx(recover_onnx(model, 5), {t.name: t.shape for t in model.listing.tensors})
    assert [(row.name, row.predicted) for row in rows[:3]] == [
        ("weight_ih_l0 + weight_ih_l0_reverse", (2, 12, 3)),
        ("weight_hh_l0 + weight_hh_l0_reverse", (2, 12, 4)),
        ("bias_ih_l0 + bias_hh_l0 + bias_ih_l0_reverse + bias_hh_l0_reverse", (2, 24)),
    ]


def test_the_matmul_head_is_stored_transposed() -> None:
    model = survey_onnx(str(LM))
    recovered = recover_onnx(model, 5, "last")
    rows = _rows(model, recovered)
    assert rows["linear.weight"].predicted == (5, 11)  # PyTorch's (11, 5), as MatMul reads it
    assert recovered.network.stages[0].dense[0].steps == "last"


def test_an_unfolded_export_is_recovered_from_its_state_dict_names() -> None:
    """do_constant_folding=False: the initializers are the state_dict; the graph still says
    that the head reads every step.
    """
    model = survey_onnx(str(CHECKPOINTS / "onnx_lm_unfolded.onnx"))
    recovered = recover_onnx(model, 5)
    assert recovered.names["lstm.weight_ih_l1"] == "lstm.weight_ih_l1"
    assert recovered.notes[:2] == (
        "the recurrent nodes compute their W, R and B from initializers named as a PyTorch "
        "state_dict (exported with do_constant_folding=False): recovered from those names",
        "the dense layers read every step: --outputs all (override with --outputs)",
    )


def _lstm_model(
    hidden: int = 3, w: tuple[int, ...] = (1, 12, 2), **attributes: Any
) -> onnx.ModelProto:
    """X (T, B, 2) -> LSTM(hidden) -> Y, with zero initializers of the given W shape."""
    inputs = ["X", "W", "R", "B", *attributes.pop("more", [])]
    node = helper.make_node("LSTM", inputs, ["Y"], name="/lstm/LSTM", hidden_size=hidden,
                            **attributes)  # fmt: skip
    initializers = [
        numpy_helper.from_array(np.zeros(w, np.float32), "W"),
        numpy_helper.from_array(np.zeros((1, 4 * hidden, hidden), np.float32), "R"),
        numpy_helper.from_array(np.zeros((1, 8 * hidden), np.float32), "B"),
        numpy_helper.from_array(np.zeros((1, 12), np.float32), "P"),
    ]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 1, 2])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph([node], "g", [x], [y], initializers))


def _save(tmp_path: Path, model: onnx.ModelProto, name: str = "m.onnx") -> str:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def test_a_hand_made_lstm_is_recovered_with_its_unused_initializer(tmp_path: Path) -> None:
    model = survey_onnx(_save(tmp_path, _lstm_model()))
    recovered = recover_onnx(model, 5)
    assert [t.name for t in recovered.other] == ["P"]
    assert recovered.network.stages[0].recurrent[0].hidden_size == 3
    assert all(row.ok for row in _rows(model, recovered).values())


def test_a_head_that_does_not_read_the_recurrent_width_is_other(tmp_path: Path) -> None:
    model = _lstm_model()
    model.graph.node.append(helper.make_node("Gemm", ["Y", "fc"], ["Z"], "/fc/Gemm", transB=1))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((2, 5), np.float32), "fc"))
    recovered = recover_onnx(survey_onnx(_save(tmp_path, model)), 5)
    assert [t.name for t in recovered.other] == ["P", "fc"]
    assert recovered.network.stages[0].dense == ()
    assert (
        "the Gemm node '/fc/Gemm' reads 5 features, the layer before hands on 3: listed as other"
        in recovered.notes
    )


def test_graphs_that_chain_no_layers_are_refused(tmp_path: Path) -> None:
    """An embedding narrower than the LSTM reads; LSTM nodes, and Gemm nodes, that feed
    each other.
    """
    model = _lstm_model()
    model.graph.node.insert(0, helper.make_node("Gather", ["table", "ids"], ["X"]))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((7, 4), np.float32), "table"))
    with pytest.raises(RecoveryError, match="reads 2 features, but the layer before it hands on 4"):
        recover_onnx(survey_onnx(_save(tmp_path, model)), 5)
    model = _lstm_model()
    model.graph.node[0].input[0] = "X2"
    model.graph.node.extend([
        helper.make_node("LSTM", ["Y", "W", "R", "B"], ["Y2"], hidden_size=3),
        helper.make_node("LSTM", ["Y2", "W", "R", "B"], ["Y3"], hidden_size=3),
        helper.make_node("Squeeze", ["Y3"], ["X2"]),
        helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y4"], hidden_size=3),
        helper.make_node("Squeeze", ["Y4"], ["Y"]),
    ])  # fmt: skip
    with pytest.raises(RecoveryError, match="feed each other in a cycle"):
        recover_onnx(survey_onnx(_save(tmp_path, model)), 5)
    model = _lstm_model()
    model.graph.node.extend([
        helper.make_node("Gemm", ["Y", "fc"], ["Z"], transB=1),
        helper.make_node("Identity", ["Z"], ["Y"]),
    ])  # fmt: skip
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((3, 3), np.float32), "fc"))
    with pytest.raises(RecoveryError, match="the dense layers feed each other in a cycle"):
        recover_onnx(survey_onnx(_save(tmp_path, model)), 5)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_lstm_model(w=(1, 16, 2)), "W of shape (1, 16, 2) is not (1, 12, input size)"),
        (_lstm_model(w=(2, 12, 2)), "W of shape (2, 12, 2) is not (1, 12, input size)"),
        (_lstm_model(direction="reverse"), "runs in direction 'reverse'"),
        (_lstm_model(more=["", "", "", "P"]), "peephole weights P"),
        (_lstm_model(clip=2.0), "clips its cell"),
        (_lstm_model(input_forget=1), "couples its input and forget gates"),
        (_lstm_model(activations=["Relu", "Tanh", "Tanh"]), "activations ('relu', 'tanh', 'tanh')"),
    ],
)
def test_nodes_rnncalc_does_not_model_are_refused(
    tmp_path: Path, model: onnx.ModelProto, message: str
) -> None:
    with pytest.raises(RecoveryError) as error:
        recover_onnx(survey_onnx(_save(tmp_path, model)), 5)
    assert message in error.value.message
    assert error.value.message.startswith("the LSTM node '/lstm/LSTM'")


def test_onnx_default_gru_and_graphs_without_recurrent_nodes_are_refused(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 1, 2])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    weights = [numpy_helper.from_array(np.zeros(s, np.float32), n)
               for n, s in (("W", (1, 9, 2)), ("R", (1, 9, 3)))]  # fmt: skip
    gru = helper.make_node("GRU", ["X", "W", "R"], ["Y"], hidden_size=3)
    graph = helper.make_graph([gru], "g", [x], [y], weights)
    with pytest.raises(RecoveryError, match="linear_before_reset = 0"):
        recover_onnx(survey_onnx(_save(tmp_path, helper.make_model(graph))), 5)
    relu = helper.make_node("Relu", ["X"], ["Y"])
    graph = helper.make_graph([relu], "g", [x], [y], weights)
    with pytest.raises(RecoveryError, match="no LSTM, GRU or RNN node"):
        recover_onnx(survey_onnx(_save(tmp_path, helper.make_model(graph))), 5)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_files_give_a_listing_or_one_line(tmp_path: Path, data: st.DataObject) -> None:
    """Cut or overwritten bytes: a listing (protobuf has no checksum) whose recovery works or
    says why not, or one FormatError naming the file.
    """
    raw = bytearray(LM.read_bytes())
    if data.draw(st.booleans(), "truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    else:
        for _ in range(data.draw(st.integers(1, 4), "changes")):
            raw[data.draw(st.integers(0, len(raw) - 1), "at")] = data.draw(st.integers(0, 255))
    path = tmp_path / "damaged.onnx"
    path.write_bytes(bytes(raw))
    message = _outcome(str(path))
    assert "\n" not in message
    assert message.startswith((f"{path}: ", "tensors: ", "ok"))


def _outcome(path: str) -> str:
    """``ok``, or the one error the file gave: a FormatError's or a RecoveryError's."""
    try:
        model = survey_onnx(path)
        recovered = recover_onnx(model, 5)
    except (FormatError, RecoveryError) as error:
        return str(error)
    proof_onnx(recovered, {t.name: t.shape for t in model.listing.tensors})
    return "ok"


def _tensor_model(tensor: TensorProto) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])
    return helper.make_model(helper.make_graph([], "g", [x], [x], [tensor]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.dims.append(2),
            "FLOAT of shape (2, 3, 2) needs 48 bytes of data, it holds 24",
        ),
        (lambda t: t.ClearField("raw_data"), "needs 6 values of data, it holds 0"),
        (lambda t: setattr(t, "data_type", TensorProto.STRING), "holds STRING values"),
        (lambda t: setattr(t, "data_type", TensorProto.INT4), "holds INT4 values"),
        (lambda t: setattr(t, "data_type", 99), "holds data type 99 values"),
        (lambda t: t.dims.__setitem__(0, -2), "the dims (-2, 3) are no shape"),
    ],
)
def test_lying_tensors_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    tensor = numpy_helper.from_array(np.zeros((2, 3), np.float32), "w")
    change(tensor)
    path = _save(tmp_path, _tensor_model(tensor))
    with pytest.raises(FormatError) as error:
        read_onnx(path)
    assert str(error.value) == f"{path}: initializer 'w': {message}" or message in str(error.value)


def test_garbage_and_oversized_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.onnx"
    path.write_bytes(b"\xff" * 64)
    with pytest.raises(FormatError, match="its protobuf does not parse"):
        read_onnx(str(path))
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="not an ONNX model: no graph"):
        read_onnx(str(path))
    with pytest.raises(FormatError, match="not a regular file"):
        read_onnx(str(tmp_path))
    monkeypatch.setattr(onnxfile, "MAX_BYTES", 1000)
    with pytest.raises(FormatError, match="more than the 1000 B an ONNX file can hold"):
        read_onnx(str(LM))


def _external(tmp_path: Path) -> str:
    """A model whose initializer 'w' (2 x 3 float32) lives in weights.bin beside it."""
    model = _tensor_model(
        numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    )
    path = str(tmp_path / "ext.onnx")
    onnx.save(model, path, save_as_external_data=True, location="weights.bin",
              size_threshold=0)  # fmt: skip
    return path


def test_external_data_is_listed_by_its_size_and_read_on_request(tmp_path: Path) -> None:
    path = _external(tmp_path)
    assert [(t.name, t.shape) for t in read_onnx(path).tensors] == [("w", (2, 3))]
    np.testing.assert_array_equal(read_onnx_array(path, "w", 1 << 20), np.arange(6).reshape(2, 3))
    os.truncate(tmp_path / "weights.bin", 20)
    with pytest.raises(FormatError, match=r"declares 24 bytes at offset 0 of 'weights\.bin'"):
        read_onnx(path)


@pytest.mark.parametrize("location", ["../weights.bin", "/etc/passwd", "", "link.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, location: str) -> None:
    path = _external(tmp_path)
    (tmp_path / "link.bin").symlink_to("/etc/hostname")
    model = onnx.load(path, load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    Path(path).write_bytes(model.SerializeToString())
    out = r"initializer 'w': its external data .* (is not in|leads out of) the model's folder"
    with pytest.raises(FormatError, match=out):
        read_onnx(path)


def test_reading_values_checks_the_memory_limit(tmp_path: Path) -> None:
    bias = read_onnx_array(str(LM), "linear.bias", 1 << 20)
    assert bias.shape == (11,)
    assert bias.dtype == np.float32
    wide = _save(tmp_path, _tensor_model(numpy_helper.from_array(np.ones(1000, np.float32), "w")))
    size = Path(wide).stat().st_size  # the parse fits; the file and the array do not
    with pytest.raises(FormatError, match=r"reading 'w' needs .* more than the memory limit"):
        read_onnx_array(wide, "w", 2 * size)
    assert read_onnx_array(wide, "w", size + 12_000).sum() == 1000
    with pytest.raises(FormatError, match="half the memory limit"):
        read_onnx_array(str(LM), "linear.bias", 1000)
    with pytest.raises(FormatError, match="holds no initializer 'nothing'"):
        read_onnx_array(str(LM), "nothing", 1 << 20)


def test_sixteen_bit_floats_are_read_as_float32(tmp_path: Path) -> None:
    tensor = helper.make_tensor("h", TensorProto.BFLOAT16, [2], [1.5, -2.0])
    path = _save(tmp_path, _tensor_model(tensor))
    assert read_onnx(path).tensors[0].dtype == "bfloat16"
    assert read_onnx_array(path, "h", 1 << 20).tolist() == [1.5, -2.0]
