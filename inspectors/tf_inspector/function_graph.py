"""Convert TensorFlow FuncGraphs into neutral Graphs, nested functions included.

Each `tf.Operation` becomes a node named after the op. Captured variable handles become
`param` nodes named after their variable, so the user sees `sequential/fc1/kernel`
rather than `ReadVariableOp/resource`. Ops that run other functions (`While`, `If`,
`Case`, `PartitionedCall`, ...) get each referenced function converted into its own
Graph under `Graph.subgraphs`, as deep as the nesting goes.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Any

import networkx as nx
import tensorflow as tf

from inspectors.graph import Graph
from inspectors.tf_inspector.native import TFFunction
from inspectors.tf_inspector.source import user_source

#: Plumbing that views hide by default: they move values, they do not compute.
HIDDEN_OPS = frozenset({"Identity", "IdentityN", "NoOp"})

#: Which function attribute is "the body" a user steps into, best first.
MAIN_ROLES = ("body", "then_branch", "f", "branches_0")

#: Ops whose first input is a condition / branch index rather than a function argument.
_SELECTOR_OPS = frozenset({"If", "StatelessIf", "Case", "StatelessCase"})

#: Ops that carry no function attributes; skipping them avoids copying large constants.
_NO_FUNCTIONS = frozenset({"Const", "Placeholder"})

#: Ops that call one function (`f`) with their inputs as its arguments.
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})

#: Attributes that ask for a function (or a call of it) to be compiled with XLA.
XLA_MARKERS = ("_XlaMustCompile", "_XlaCompile")


class GraphConverter:
    """Converts a FuncGraph and everything it calls, sharing each function by name."""

    def __init__(self, variables: Iterable[Any]) -> None:
        self._by_handle: dict[int, Any] = {}
        for var in variables:
            handle = getattr(var, "handle", None)
            if handle is not None:
                self._by_handle.setdefault(id(handle), var)
        self.graphs: dict[str, Graph] = {}
        self.functions: dict[str, TFFunction] = {}
        self._busy: set[str] = set()
        self._captures: dict[int, tuple[Any, dict[int, Any]]] = {}

    # -- public -----------------------------------------------------------------

    def convert(
        self,
        func_graph: Any,
        name: str,
        *,
        fetches: Sequence[Any] | None = None,
        output_labels: Sequence[str] | None = None,
        is_main: bool = False,
        argument_variables: dict[int, Any] | None = None,
        **meta: Any,
    ) -> tuple[Graph, TFFunction]:
        """A Graph of `func_graph` plus the TFFunction a stepper runs it with."""
        graph = Graph(name, "tensorflow", **meta)
        fn = TFFunction(
            name=name,
            func_graph=func_graph,
            ops={},
            variables={},
            captured={},
            arguments=[],
            inputs=[],
            fetches=list(func_graph.outputs if fetches is None else fetches),
            outputs=[],
        )
        ops = execution_order(func_graph.get_operations())
        taken = {op.name for op in ops}
        ids: dict[str, str] = {}
        arguments = {id(t.op): i for i, t in enumerate(func_graph.inputs)}
        external = self._captures_of(func_graph)
        for op in ops:
            node_id = self._add_op_node(
                graph, fn, op, taken, arguments, external, is_main, argument_variables or {}
            )
            ids[op.name] = node_id
        fn.arguments = [ids[t.op.name] for t in func_graph.inputs if t.op.name in ids]
        fn.inputs = [n for n in fn.arguments if graph.node(n)["kind"] == "input"]
        for op in ops:
            self._connect(graph, op, ids)
        for node_id in fn.variables:
            graph.node(node_id)["scope"] = _param_scope(fn.ops[node_id])
        self._add_outputs(graph, fn, ids, taken, output_labels)
        return graph, fn

    # -- nodes ------------------------------------------------------------------

    def _add_op_node(
        self,
        graph: Graph,
        fn: TFFunction,
        op: Any,
        taken: set[str],
        arguments: dict[int, int],
        external: dict[int, Any],
        is_main: bool,
        argument_variables: dict[int, Any],
    ) -> str:
        node_id, op_type = op.name, op.type
        parts = node_id.split("/")
        kind, label, scope = _kind(op_type), parts[-1], parts[:-1]
        extra: dict[str, Any] = {}
        if op_type == "Placeholder":
            position = arguments.get(id(op))
            tensor = op.outputs[0]
            var = self._variable_of(tensor)
            if var is None and position is not None:
                var = argument_variables.get(position)
            outside = external.get(id(tensor))
            if var is not None:
                var_name = var.name.split(":")[0]
                node_id = _unique(var_name, taken) if var_name != op.name else op.name
                kind, label = "param", var_name.split("/")[-1]
                extra["variable"] = var_name
                # the node's output is the variable's handle (shape []); say what it holds
                extra["value"] = (
                    [None if d is None else int(d) for d in var.shape.as_list()]
                    if var.shape.rank is not None
                    else None,
                    var.dtype.name,
                )
                fn.variables[node_id] = var
            elif is_main and outside is not None and not tf.is_symbolic_tensor(outside):
                kind = "const"  # a value captured from outside the function
                extra["captured"] = True
                fn.captured[node_id] = outside
            else:
                kind = "input"
        if op_type in HIDDEN_OPS:
            extra["hidden"] = True
        control_inputs = op.control_inputs
        if control_inputs:
            # Kept as an attribute, not as edges: edges are data slots everywhere else.
            extra["control_inputs"] = [c.name for c in control_inputs]
        roles = {} if op_type in _NO_FUNCTIONS else function_roles(op)
        subgraph = None
        if roles:
            self._convert_callees(graph, op, roles)
            extra["subgraphs"] = roles
            main_role = next((r for r in MAIN_ROLES if r in roles), next(iter(roles)))
            subgraph = roles[main_role] if roles[main_role] in graph.subgraphs else None
            fn.calls[node_id] = roles
            if xla_compiled(op, roles):
                extra["jit_compile"] = True  # stepped over as one op; see compiled.py
        graph.add_node(
            node_id,
            kind=kind,
            op=op_type,
            label=label,
            scope=scope,
            outputs=[_output_spec(t) for t in op.outputs],
            source=user_source(op),
            subgraph=subgraph,
            **extra,
        )
        fn.ops[node_id] = op
        return node_id

    def _variable_of(self, tensor: Any) -> Any:
        """The tf.Variable whose handle `tensor` is, following captures outwards."""
        for _ in range(64):  # nesting depth bound; captures never form cycles
            var = self._by_handle.get(id(tensor))
            if var is not None:
                return var
            graph = getattr(tensor, "graph", None) if tf.is_symbolic_tensor(tensor) else None
            if graph is None:
                return None
            outer = self._captures_of(graph).get(id(tensor))
            if outer is None:
                return None
            tensor = outer
        return None

    def _captures_of(self, graph: Any) -> dict[int, Any]:
        """id of each tensor `graph` captured -> the outer tensor, read once per graph."""
        known = self._captures.get(id(graph))
        if known is None:  # keeping `graph` here keeps its id from being reused
            known = (graph, {id(internal): ext for ext, internal in graph.captures})
            self._captures[id(graph)] = known
        return known[1]

    def _convert_callees(self, graph: Graph, op: Any, roles: dict[str, str]) -> None:
        offset = 1 if op.type in _SELECTOR_OPS else 0
        for fn_name in roles.values():
            if fn_name not in self.graphs and fn_name not in self._busy:
                func_graph = find_function(fn_name, op.graph)
                if func_graph is None:
                    continue
                self._busy.add(fn_name)
                try:
                    passed = self._passed_variables(op, offset, len(func_graph.inputs))
                    sub, sub_fn = self.convert(
                        func_graph, fn_name, argument_variables=passed, function=fn_name
                    )
                finally:
                    self._busy.discard(fn_name)
                self.graphs[fn_name] = sub
                self.functions[fn_name] = sub_fn
            if fn_name in self.graphs:
                graph.subgraphs[fn_name] = self.graphs[fn_name]

    def _passed_variables(self, op: Any, offset: int, n_args: int) -> dict[int, Any]:
        """Variables the call site passes as arguments, by argument position."""
        inputs = list(op.inputs)[offset:]
        if len(inputs) != n_args:
            return {}
        found = {}
        for i, tensor in enumerate(inputs):
            if tensor.dtype == tf.resource:
                var = self._variable_of(tensor)
                if var is not None:
                    found[i] = var
        return found

    # -- edges and outputs --------------------------------------------------------

    @staticmethod
    def _connect(graph: Graph, op: Any, ids: dict[str, str]) -> None:
        for dst_index, tensor in enumerate(op.inputs):
            graph.add_edge(
                ids[tensor.op.name],
                ids[op.name],
                src_index=tensor.value_index,
                dst_index=dst_index,
            )

    @staticmethod
    def _add_outputs(
        graph: Graph,
        fn: TFFunction,
        ids: dict[str, str],
        taken: set[str],
        labels: Sequence[str] | None,
    ) -> None:
        many = len(fn.fetches) > 1
        if labels is None or len(labels) != len(fn.fetches):
            labels = [str(i) for i in range(len(fn.fetches))]
        for i, tensor in enumerate(fn.fetches):
            node_id = _unique(f"output_{i}" if many else "output", taken)
            graph.add_node(
                node_id,
                kind="output",
                op="output",
                label=f"output {labels[i]}" if many else "output",
                outputs=[_output_spec(tensor)],
                index=i,
            )
            graph.add_edge(ids[tensor.op.name], node_id, src_index=tensor.value_index)
            fn.outputs.append(node_id)


# ------------------------------------------------------------------------ helpers


def function_roles(op: Any) -> dict[str, str]:
    """Function-valued attributes of `op`: role -> function name (`Case` gives `branches_0`...)."""
    roles: dict[str, str] = {}
    attrs = op.node_def.attr  # each `node_def` read parses the whole NodeDef again
    for key in sorted(attrs):
        value = attrs[key]
        if value.HasField("func"):
            roles[key] = value.func.name
        elif value.HasField("list"):
            for i, func in enumerate(value.list.func):
                roles[f"{key}_{i}"] = func.name
    return roles


def library_function(name: str, graph: Any) -> Any:
    """The function object (an `AtomicFunction`) `graph` or a graph around it holds as `name`."""
    seen = 0
    while graph is not None and seen < 64:
        found = graph._get_function(name)
        if found is not None:
            return found
        graph = getattr(graph, "outer_graph", None)
        seen += 1
    return None


def find_function(name: str, graph: Any) -> Any:
    """The FuncGraph of library function `name`, looked up from `graph` outwards.

    A traced function keeps its own FuncGraph (with captures and tracebacks); a loaded
    one is rebuilt from its FunctionDef. The eager context's library is the last resort.
    """
    found = library_function(name, graph)
    if found is not None:
        return found.graph
    from tensorflow.python.eager import context
    from tensorflow.python.framework import function_def_to_graph

    try:
        fdef = context.context().get_function_def(name)
    except Exception:
        return None
    return function_def_to_graph.function_def_to_graph(fdef)


def xla_compiled(op: Any, roles: dict[str, str]) -> bool:
    """Whether call op `op` runs a function that must be compiled with XLA.

    `tf.function(jit_compile=True)` marks its function `_XlaMustCompile` and so does
    every call to it in a traced graph; a `jit_scope` marks ops `_XlaCompile`.
    """
    if op.type not in CALL_OPS or "f" not in roles:
        return False
    attrs = op.node_def.attr
    if any(key in attrs and attrs[key].b for key in XLA_MARKERS):
        return True
    found = library_function(roles["f"], op.graph)
    marks = getattr(found, "attributes", None) or {}
    return any(key in marks and getattr(marks[key], "b", False) for key in XLA_MARKERS)


def execution_order(ops: Sequence[Any]) -> list[Any]:
    """`ops` in an order that runs every op after its inputs (and control inputs).

    `get_operations()` is creation order, which is topological for most traced graphs
    (a Keras graph adds a control input to its output afterwards; a graph rebuilt from
    a FunctionDef may be in any order), so it is sorted when needed, keeping creation
    order wherever the dependencies allow.
    """
    position = {op.name: i for i, op in enumerate(ops)}
    earlier: list[set[int]] = []
    in_order = True
    for i, op in enumerate(ops):
        names = [t.op.name for t in op.inputs] + [c.name for c in op.control_inputs]
        before = {position[n] for n in names if n in position}
        in_order = in_order and all(j < i for j in before)
        earlier.append(before)
    if in_order:
        return list(ops)
    waiting = [len(before) for before in earlier]
    later: list[list[int]] = [[] for _ in ops]
    for i, before in enumerate(earlier):
        for j in before:
            later[j].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]  # ascending: already a heap
    order: list[Any] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(ops[i])
        for k in later[i]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, k)
    if len(order) != len(ops):
        raise nx.NetworkXUnfeasible("the graph's ops depend on each other in a cycle")
    return order


def _kind(op_type: str) -> str:
    if op_type == "Placeholder":
        return "input"
    if op_type == "Const":
        return "const"
    return "op"


def _output_spec(tensor: Any) -> tuple[tuple[int | None, ...] | None, str]:
    shape = tensor.shape
    dims = None if shape.rank is None else tuple(shape.as_list())
    return dims, tensor.dtype.name


def _param_scope(placeholder: Any) -> tuple[str, ...]:
    """The scope a variable belongs to: shared by the ops that use what is read from it."""
    scopes: list[tuple[str, ...]] = []
    for consumer in placeholder.outputs[0].consumers():
        users = [consumer]
        if consumer.type == "ReadVariableOp":
            users = [u for t in consumer.outputs for u in t.consumers()] or [consumer]
        scopes.extend(tuple(u.name.split("/")[:-1]) for u in users)
    if not scopes:
        return tuple(placeholder.name.split("/")[:-1])
    common = scopes[0]
    for scope in scopes[1:]:
        n = 0
        while n < min(len(common), len(scope)) and common[n] == scope[n]:
            n += 1
        common = common[:n]
    return common


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name
