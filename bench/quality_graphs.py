"""The graphs bench/layout_quality.py lays out: samples, real architectures, synthetics.

Each source is a (name, zero-argument function returning a Graph) pair; a source whose
framework or package is missing is skipped with a note. Real architectures are built
at run time with random weights (no download): tiny `transformers` configs through
torch.export (when `transformers` is installed: it is no dependency of Graphstep),
Keras MobileNetV2 and ResNet50 through the TensorFlow capture, a ResNet written here
in plain torch, a 24-layer `nn.TransformerEncoder` captured with export and eager, and
the plain-op encoder that bench/view.py times.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from bench.synthetic import layered_graph, subgraph_graph, transformer_graph  # noqa: E402
from inspectors.graph import Graph  # noqa: E402

Source = tuple[str, Callable[[], Graph]]


def sample_sources() -> list[Source]:
    """Every sample model, captured the way `graphstep` opens it (strategy auto)."""
    from inspectors.capture import capture
    from inspectors.target import list_samples, load_target

    return [(s.name, lambda name=s.name: capture(load_target(name)).graph) for s in list_samples()]


def _torch_graph(name: str, model: Any, inputs: tuple[Any, ...], strategy: str) -> Graph:
    from inspectors.capture import capture
    from inspectors.target import ModelTarget

    model.eval()
    return capture(ModelTarget(f"bench:{name}", name, "torch", model, inputs), strategy).graph


def _tf_graph(name: str, model: Any, inputs: tuple[Any, ...]) -> Graph:
    from inspectors.capture import capture
    from inspectors.target import ModelTarget

    return capture(ModelTarget(f"bench:{name}", name, "tensorflow", model, inputs)).graph


def torch_sources() -> list[Source]:
    """A plain-torch ResNet and a wrapped 24-layer nn.TransformerEncoder (export, eager)."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        """torchvision's BasicBlock: two 3x3 convs and a residual, a 1x1 conv when the
        shape changes."""

        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample: nn.Module | None = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet(nn.Module):
        """ResNet-18's shape (four stages of two blocks), narrow."""

        def __init__(self, width: int = 16, classes: int = 10) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            stages = []
            cin = width
            for i, cout in enumerate((width, 2 * width, 4 * width, 8 * width)):
                stride = 1 if i == 0 else 2
                stages.append(
                    nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))
                )
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    class Encoder(nn.Module):
        """A 24-layer nn.TransformerEncoder wrapped in a module."""

        def __init__(self, layers: int = 24, d_model: int = 64) -> None:
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model, 4, 128, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

        def forward(self, src: torch.Tensor) -> torch.Tensor:
            return self.encoder(src)

    def resnet() -> Graph:
        torch.manual_seed(0)
        return _torch_graph("resnet18", ResNet(), (torch.randn(1, 3, 64, 64),), "auto")

    def encoder(strategy: str) -> Graph:
        torch.manual_seed(0)
        return _torch_graph("encoder24", Encoder(), (torch.randn(2, 8, 64),), strategy)

    def plain_encoder() -> Graph:
        """bench/capture.py's 24-layer encoder of plain ops, captured with fx (bench/view.py
        lays it out too: 5,162 nodes)."""
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from capture import BATCH, TOKENS, WIDTH, PlainEncoder

        torch.manual_seed(0)
        return _torch_graph(
            "plain_encoder", PlainEncoder(), (torch.randn(BATCH, TOKENS, WIDTH),), "fx"
        )

    return [
        ("torch resnet18", resnet),
        ("encoder24 export", lambda: encoder("export")),
        ("encoder24 eager", lambda: encoder("eager")),
        ("fx plain encoder-24", plain_encoder),
    ]


def transformers_sources() -> list[Source]:
    """Tiny random-weight configs of a few `transformers` models, through torch.export."""
    import torch
    import transformers as tr

    class Wrapped(torch.nn.Module):
        """The model's first output as a plain tensor: what export can trace end to end."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=ids, use_cache=False, return_dict=True)[0]

    def build(name: str, config: Any, cls: Any) -> Callable[[], Graph]:
        def make() -> Graph:
            torch.manual_seed(0)
            model = Wrapped(cls(config))
            ids = torch.randint(0, config.vocab_size, (1, 16))
            return _torch_graph(name, model, (ids,), "export")

        return make

    small = {"vocab_size": 128}
    bert = tr.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **small
    )
    gpt2 = tr.GPT2Config(
        n_embd=32, n_layer=2, n_head=2, n_positions=64, bos_token_id=0, eos_token_id=0, **small
    )
    llama = tr.LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        **small,
    )
    return [
        ("hf bert-2", build("bert", bert, tr.BertModel)),
        ("hf gpt2-2", build("gpt2", gpt2, tr.GPT2LMHeadModel)),
        ("hf llama-2", build("llama", llama, tr.LlamaForCausalLM)),
    ]


def keras_sources() -> list[Source]:
    """keras.applications MobileNetV2 and ResNet50, random weights, small inputs."""
    import keras
    import tensorflow as tf

    def app(name: str, make: Callable[[], Any], side: int) -> Callable[[], Graph]:
        def graph() -> Graph:
            keras.utils.set_random_seed(0)
            model = make()
            x = tf.random.stateless_uniform((1, side, side, 3), seed=(0, 1))
            return _tf_graph(name, model, (x,))

        return graph

    mobilenet = app(
        "mobilenetv2",
        lambda: keras.applications.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10
        ),
        96,
    )
    resnet = app(
        "resnet50",
        lambda: keras.applications.ResNet50(input_shape=(64, 64, 3), weights=None, classes=10),
        64,
    )
    return [("keras mobilenetv2", mobilenet), ("keras resnet50", resnet)]


def synthetic_sources(layered_sizes: tuple[int, ...] = (1000, 5000, 10000)) -> list[Source]:
    """The synthetic graphs of bench/view.py (capped in size) and the subgraph one."""
    out: list[Source] = [
        ("synthetic transformer-24", transformer_graph),
        ("synthetic tf_function", subgraph_graph),
    ]
    out += [(f"layered-{n // 1000}k", lambda n=n: layered_graph(n, 20, 0)) for n in layered_sizes]
    return out


def all_sources(note: Callable[[str], None] = print) -> list[Source]:
    """Every source that can run here; a missing package is named through `note`."""
    out: list[Source] = []
    for family, get in (
        ("samples", sample_sources),
        ("torch models", torch_sources),
        ("transformers models", transformers_sources),
        ("keras applications", keras_sources),
        ("synthetic graphs", synthetic_sources),
    ):
        try:
            out += get()
        except ImportError as exc:
            note(f"{family} skipped: {exc} (pip install it into .venv to include them)")
    return out
