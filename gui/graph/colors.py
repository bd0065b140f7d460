"""Op categories and their colours: one palette for boxes, legend and minimap.

A node's category comes from its `kind` (inputs, parameters, outputs) and otherwise
from its `op`, matched for both PyTorch (`Linear`, `aten.addmm.default`, `relu`)
and TensorFlow (`MatMul`, `Relu`, `Conv2D`, `While`) spellings. Qt-free: colours
are `#rrggbb` strings.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: (name shown in the legend, box fill, box border), indexed by category number.
CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("input", "#d7ecd9", "#3f8f4f"),
    ("param / const", "#eceff3", "#8a96a6"),
    ("linear / matmul", "#d9e6fb", "#3a6fc4"),
    ("conv", "#cfe3f7", "#2f69a8"),
    ("activation", "#fde2c9", "#d07b2c"),
    ("norm", "#e4dcf6", "#7b5cc0"),
    ("pool", "#d6efec", "#2b9488"),
    ("elementwise / math", "#f1eede", "#a39358"),
    ("shape / reshape", "#e9e9e9", "#8c8c8c"),
    ("reduction", "#f6dbe5", "#b9557a"),
    ("control flow / call", "#fbd3d0", "#c4473d"),
    ("module", "#dfe5ee", "#53657e"),
    ("output", "#d5ead7", "#2e7d3c"),
    ("other", "#f3f3f3", "#9a9a9a"),
)

INPUT, PARAM, LINEAR, CONV, ACTIVATION, NORM, POOL, MATH, SHAPE, REDUCTION = range(10)
CONTROL, MODULE, OUTPUT, OTHER = range(10, 14)

_EXACT: dict[int, tuple[str, ...]] = {
    LINEAR: (
        "linear",
        "addmm",
        "mm",
        "matmul",
        "bmm",
        "baddbmm",
        "batchmatmul",
        "batchmatmulv2",
        "batchmatmulv3",
        "dense",
        "einsum",
        "embedding",
        "bilinear",
        "tensordot",
        "multiheadattention",
        "scaleddotproductattention",
        "scaled_dot_product_attention",
    ),
    ACTIVATION: (
        "relu",
        "relu6",
        "gelu",
        "sigmoid",
        "tanh",
        "softmax",
        "logsoftmax",
        "log_softmax",
        "silu",
        "swish",
        "elu",
        "selu",
        "celu",
        "leakyrelu",
        "leaky_relu",
        "softplus",
        "softsign",
        "mish",
        "hardswish",
        "hardsigmoid",
        "hardtanh",
        "prelu",
        "glu",
        "_softmax",
        "_log_softmax",
    ),
    MATH: (
        "add",
        "addv2",
        "sub",
        "mul",
        "div",
        "realdiv",
        "truediv",
        "floordiv",
        "floormod",
        "mod",
        "pow",
        "sqrt",
        "rsqrt",
        "exp",
        "log",
        "neg",
        "abs",
        "maximum",
        "minimum",
        "square",
        "squareddifference",
        "rsub",
        "where",
        "select",
        "selectv2",
        "clamp",
        "clip",
        "clipbyvalue",
        "erf",
        "sin",
        "cos",
        "reciprocal",
        "sign",
        "floor",
        "ceil",
        "round",
        "iadd",
        "imul",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "equal",
        "notequal",
        "less",
        "lessequal",
        "greater",
        "greaterequal",
        "logicaland",
        "logicalor",
        "logicalnot",
        "masked_fill",
        "addn",
        "biasadd",
        "scalar_tensor",
        "bitwise_not",
    ),
    SHAPE: (
        "reshape",
        "view",
        "_unsafe_view",
        "transpose",
        "permute",
        "flatten",
        "squeeze",
        "unsqueeze",
        "expanddims",
        "concat",
        "concatv2",
        "cat",
        "stack",
        "split",
        "splitv",
        "slice",
        "stridedslice",
        "gather",
        "gatherv2",
        "getitem",
        "getattr",
        "size",
        "shape",
        "expand",
        "contiguous",
        "pad",
        "tile",
        "chunk",
        "pack",
        "unpack",
        "cast",
        "to",
        "identity",
        "identityn",
        "clone",
        "copy",
        "t",
        "narrow",
        "index",
        "index_select",
        "zeros",
        "ones",
        "zeros_like",
        "ones_like",
        "full",
        "fill",
        "arange",
        "range",
        "type_as",
        "repeat",
        "broadcastto",
        "broadcast_to",
        "unbind",
        "select_int",
        "onehot",
        "one_hot",
        "stopgradient",
        "detach",
        "alias",
        "lift_fresh_copy",
        "slice_scatter",
        "scatter",
        "tensorlistfromtensor",
        "tensorliststack",
        "tensorlistsetitem",
        "tensorlistgetitem",
        "tensorlistreserve",
        "noop",
    ),
    REDUCTION: (
        "sum",
        "mean",
        "max",
        "min",
        "argmax",
        "argmin",
        "prod",
        "any",
        "all",
        "var",
        "std",
        "cumsum",
        "amax",
        "amin",
        "logsumexp",
        "norm_reduce",
        "topk",
        "topkv2",
    ),
    CONTROL: (
        "while",
        "statelesswhile",
        "if",
        "statelessif",
        "partitionedcall",
        "statefulpartitionedcall",
        "cond",
        "case",
        "call",
        "switch",
        "merge",
        "enter",
        "exit",
        "nextiteration",
        "loopcond",
        "while_loop",
        "invoke_subgraph",
        "map",
        "scan",
        "call_function",
    ),
    POOL: ("maxpool", "avgpool", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"),
    NORM: ("dropout", "layernorm", "batchnorm", "groupnorm", "rmsnorm", "fusedbatchnormv3"),
}
_BY_NAME: dict[str, int] = {name: cat for cat, names in _EXACT.items() for name in names}

#: Substring rules for names no exact entry covers, tried in order.
_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"conv|deconv|depthwise"), CONV),
    (re.compile(r"pool"), POOL),
    (re.compile(r"norm|dropout"), NORM),
    (re.compile(r"matmul|linear|dense|gemm|addmm|einsum|embedding|attention"), LINEAR),
    (re.compile(r"relu|gelu|sigmoid|tanh|softmax|silu|swish|softplus|elu$"), ACTIVATION),
    (re.compile(r"^reduce|^sum|^mean|argmax|argmin"), REDUCTION),
    (re.compile(r"while|^if$|call|cond|loop"), CONTROL),
    (re.compile(r"reshape|view|transpose|permute|squeeze|concat|slice|gather|split"), SHAPE),
    (re.compile(r"add|sub|mul|div|pow|exp|sqrt|log"), MATH),
)


@lru_cache(maxsize=4096)
def normalise_op(op: str) -> str:
    """`aten.addmm.default` -> `addmm`; `torch.nn.Linear` -> `linear`; `Conv2D` -> `conv2d`."""
    text = str(op or "").strip()
    for prefix in ("aten.", "torch.nn.functional.", "torch.nn.", "torch.", "tf.", "nn.", "F."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    for suffix in (".default", ".Tensor", ".Scalar", ".int", ".dim", ".self", ".using_ints"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    text = text.rsplit(".", 1)[-1].strip("<>").lower()
    if text.startswith("built-in function "):
        text = text[len("built-in function ") :]
    if text.startswith("method "):
        text = text[len("method ") :]
    if text.endswith("_") and not text.startswith("_"):
        text = text[:-1]  # in-place torch ops: relu_ -> relu
    return text


@lru_cache(maxsize=8192)
def category(op: str, kind: str = "op") -> int:
    """The category number (index into `CATEGORIES`) of a node's `op` and `kind`."""
    if kind == "input":
        return INPUT
    if kind in ("param", "const"):
        return PARAM
    if kind == "output":
        return OUTPUT
    name = normalise_op(op)
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name in ("placeholder",):
        return INPUT
    if name in ("get_attr", "const", "variable", "readvariableop", "varhandleop"):
        return PARAM
    for pattern, cat in _PATTERNS:
        if pattern.search(name):
            return cat
    if kind == "module":
        return MODULE
    return OTHER


def category_name(index: int) -> str:
    return CATEGORIES[index][0]
