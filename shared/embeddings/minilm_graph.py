"""all-MiniLM-L6-v2's encoder as an ONNX graph, built from the packaged weights.

The model is a BERT encoder (config.json: 6 layers, 12 heads, hidden size 384, exact GELU,
LayerNorm eps 1e-12). Its graph is written here with onnx's helpers, operator by operator as
transformers' ``BertModel`` computes it, and its weights are read from the package's
``model.safetensors`` with numpy: so exporting needs neither torch nor transformers, and an
image can leave both out. The output is the last hidden state, ``[batch, tokens, 384]``;
pooling stays in Python (``shared.embeddings.local.mean_pooled``), as for the PyTorch runner.
The tests hold the vectors to sentence-transformers' own (1e-5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
GRAPH_VERSION = 1  # part of the exported file's name: a changed graph is written anew
OPSET = 17  # LayerNormalization


def build(folder: Path) -> Any:
    """The ONNX model (an ``onnx.ModelProto``) of the BERT encoder whose config.json and
    model.safetensors are in ``folder``."""
    from onnx import TensorProto, checker, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"not a BERT encoder with exact GELU: {folder / 'config.json'}")
    weights = load_file(str(folder / "model.safetensors"))
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_size, eps = hidden // heads, config["layer_norm_eps"]

    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], out: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [out], name=out, **attributes))
        return out

    def weight(key: str) -> str:
        return const(key, weights[key])

    def linear(x: str, prefix: str, out: str) -> str:
        # torch's Linear keeps [out, in]; MatMul wants [in, out]
        matrix = const(f"{prefix}.weight.T", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        return op("Add", [op("MatMul", [x, matrix], f"{out}.mm"), weight(f"{prefix}.bias")], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        scale, bias = weight(f"{prefix}.weight"), weight(f"{prefix}.bias")
        return op("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    # Embeddings: word + position + token type, then LayerNorm.
    shape = op("Shape", ["input_ids"], "shape")
    length = op("Gather", [shape, const("axis.tokens", np.int64(1))], "length", axis=0)
    positions = op(
        "Range", [const("first", np.int64(0)), length, const("step", np.int64(1))], "positions"
    )
    words = op("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "words")
    places = op("Gather", [weight("embeddings.position_embeddings.weight"), positions], "places")
    kinds = op(
        "Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "kinds"
    )
    summed = op("Add", [op("Add", [words, places], "words+places"), kinds], "embedded")
    x = layer_norm(summed, "embeddings.LayerNorm", "x0")

    # Padding is masked as transformers masks it: the float32 minimum added to its scores.
    mask = op("Cast", ["attention_mask"], "mask.f", to=TensorProto.FLOAT)
    blocked = op("Sub", [const("mask.one", np.float32(1.0)), mask], "mask.blocked")
    additive = op("Mul", [blocked, const("min", np.finfo(np.float32).min)], "mask.additive")
    additive = op("Unsqueeze", [additive, const("mask.axes", np.array([1, 2]))], "mask.b11t")

    split = const("heads.shape", np.array([0, 0, heads, head_size]))
    merged = const("hidden.shape", np.array([0, 0, hidden]))
    scale = const("scale", np.float32(1 / np.sqrt(head_size)))
    half, one, root2 = (
        const(k, np.float32(v)) for k, v in (("half", 0.5), ("1.0", 1), ("√2", 2**0.5))
    )
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}"

        def heads_of(name: str, perm: list[int], p: str = p, n: int = n, x: str = x) -> str:
            projected = linear(x, f"{p}.attention.self.{name}", f"l{n}.{name}")
            shaped = op("Reshape", [projected, split], f"l{n}.{name}.heads")
            return op("Transpose", [shaped], f"l{n}.{name}.t", perm=perm)

        query = heads_of("query", [0, 2, 1, 3])  # [batch, heads, tokens, size]
        key = heads_of("key", [0, 2, 3, 1])  # [batch, heads, size, tokens]
        value = heads_of("value", [0, 2, 1, 3])
        scores = op("Mul", [op("MatMul", [query, key], f"l{n}.qk"), scale], f"l{n}.scaled")
        probs = op("Softmax", [op("Add", [scores, additive], f"l{n}.masked")], f"l{n}.p", axis=-1)
        context = op("MatMul", [probs, value], f"l{n}.context")
        context = op("Transpose", [context], f"l{n}.context.t", perm=[0, 2, 1, 3])
        context = op("Reshape", [context, merged], f"l{n}.context.merged")
        attended = linear(context, f"{p}.attention.output.dense", f"l{n}.attn")
        attended = op("Add", [attended, x], f"l{n}.attn.res")
        attended = layer_norm(attended, f"{p}.attention.output.LayerNorm", f"l{n}.attn.ln")
        # exact GELU: x/2 · (1 + erf(x/√2))
        inner = linear(attended, f"{p}.intermediate.dense", f"l{n}.inter")
        erf = op("Erf", [op("Div", [inner, root2], f"l{n}.inter.scaled")], f"l{n}.erf")
        halved = op("Mul", [inner, half], f"l{n}.inter.half")
        gelu = op("Mul", [halved, op("Add", [erf, one], f"l{n}.erf.1")], f"l{n}.gelu")
        out = linear(gelu, f"{p}.output.dense", f"l{n}.out")
        out = op("Add", [out, attended], f"l{n}.out.res")
        x = layer_norm(out, f"{p}.output.LayerNorm", f"l{n}.x")
    nodes.append(helper.make_node("Identity", [x], ["hidden"], name="hidden"))

    tokens = ["batch", "tokens"]
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(name, TensorProto.INT64, tokens) for name in INPUTS],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [*tokens, hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what ONNX Runtime 1.20 and later read
    checker.check_model(model, full_check=True)
    return model
