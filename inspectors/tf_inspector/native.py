"""What a TensorFlow stepper needs to run a captured graph op by op (never sent to the GUI).

The neutral `Graph` says what to draw; these objects say how to execute it: which
`tf.Operation` each node is, which `tf.Variable` each parameter reads, which values a
function takes as arguments and which tensors it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TFFunction:
    """One traced function graph (the main function, a loop body, a branch, a callee).

    `arguments` lists the node ids of every function argument in the order a caller
    passes them (`func_graph.inputs`): for the main function the example inputs then
    the captured values; for a loop body the loop variables then the captures.
    """

    name: str  # the function's name in the library (`while_body_22`, `__inference_f_91`)
    func_graph: Any  # the tf FuncGraph
    ops: dict[str, Any]  # node id -> tf.Operation (param nodes map to their placeholder)
    variables: dict[str, Any]  # param node id -> tf.Variable it reads
    captured: dict[str, Any]  # captured non-variable node id -> the outside value it holds
    arguments: list[str]  # node ids of func_graph.inputs, in argument order
    inputs: list[str]  # the `input` node ids, in argument order
    fetches: list[Any]  # the tensors the function returns (func_graph.outputs)
    outputs: list[str]  # the `output` node ids, one per fetch, same order
    calls: dict[str, dict[str, str]] = field(default_factory=dict)  # node id -> role -> fn


@dataclass
class TFCapture:
    """The capture of a TensorFlow model: its ConcreteFunction and every function it calls.

    The top-level fields describe the main function; `functions` holds the same
    description for every nested function (loop cond/body, branches, callees) by name,
    and `subgraphs` their FuncGraphs, matching `Graph.subgraphs` keys.
    """

    concrete_function: Any  # tf ConcreteFunction that was traced
    main: TFFunction
    functions: dict[str, TFFunction] = field(default_factory=dict)
    #: What the steppers of this capture make once and share (the run as one call).
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def func_graph(self) -> Any:
        return self.main.func_graph

    @property
    def ops(self) -> dict[str, Any]:
        return self.main.ops

    @property
    def variables(self) -> dict[str, Any]:
        return self.main.variables

    @property
    def inputs(self) -> list[str]:
        return self.main.inputs

    @property
    def fetches(self) -> list[Any]:
        return self.main.fetches

    @property
    def subgraphs(self) -> dict[str, Any]:
        """Nested function name -> its FuncGraph."""
        return {name: fn.func_graph for name, fn in self.functions.items()}
