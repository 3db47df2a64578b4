"""The package's shape, checked from its source with ``ast`` (nothing is imported):

* no import circle among the modules of ``rnnkit``, counting module-level and function-level
  imports alike (an import inside a function is still a dependency; only ``if TYPE_CHECKING:``
  blocks, which never run, are left out);
* a module over 500 lines says at its top why it is that long;
* no function takes more than 8 parameters (``self``/``cls`` not counted), except the public
  signatures below that mirror Keras's;
* no code guesses attribute names (``getattr``/``hasattr`` with a literal name) and no code
  outside a layer's own file asks whether a layer is a SimpleRNN: nested layers come from
  ``Layer.sublayers()``, recurrent layers are found as ``RecurrentLayer``;
* the version is written once, in ``rnnkit/__init__.py``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import re
from typing import TypeGuard

import pytest

import rnnkit

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "python" / "rnnkit"

pytestmark = pytest.mark.skipif(
    not PACKAGE.is_dir(), reason="tests run from a copy without the source tree"
)

MAX_LINES = 500
LONG_MODULE_MARKER = "Why this module is long:"  # the phrase a long module's docstring holds
MAX_PARAMETERS = 8

# "module:qualified name" -> why the function may take more than MAX_PARAMETERS parameters.
PARAMETER_EXEMPTIONS = {
    "rnnkit.layers.dense:Dense.__init__": "Keras's Dense(units, activation, use_bias, ...)",
    "rnnkit.layers.recurrent.simple_rnn:SimpleRNN.__init__": "Keras's SimpleRNN signature",
    "rnnkit.layers.recurrent.lstm:LSTM.__init__": "Keras's LSTM signature",
    "rnnkit.layers.recurrent.gru:GRU.__init__": "Keras's GRU signature",
    "rnnkit.layers.recurrent.base:RecurrentLayer.__init__": "Keras's RNN base arguments (units, "
    "return_sequences, return_state, stateful, go_backwards, unroll) and dtype, name, backend",
    "rnnkit.layers.embedding:Embedding.__init__": "Keras's Embedding signature, with Keras 2's "
    "input_length",
    "rnnkit.models._model:Model.fit": "Keras's Model.fit(x, y, batch_size, epochs, ...)",
    "rnnkit._checkpoint_callback:ModelCheckpoint.__init__": "Keras 3's ModelCheckpoint(filepath, "
    "monitor, verbose, save_best_only, save_weights_only, mode, save_freq, "
    "initial_value_threshold) and rnnkit's save_trainer",
    "rnnkit.training.trainer:Trainer.fit": "Model.fit's arguments, which it receives",
    "rnnkit.distributed._trainer:DistributedTrainer.__init__": "Trainer's six arguments and "
    "the three MPI settings of a run: comm, num_threads, data (replicated or sharded)",
    "rnnkit.training.trainer:Trainer.fit_stream": "a fit-style entry point (data, batching, "
    "epochs, callbacks, validation), as Keras's fit",
    "rnnkit.ops._sequence:sequence_forward": "the generic forward takes every per-call array a "
    "cell may take: x, weights, initial states, lengths, activations, recurrent mask, the cell's "
    "own parameters, Keras's step mask",
    "rnnkit.ops.rnn:rnn_forward": "the functional RNN names each array it takes: x, three "
    "weights, h0, activation, lengths, the recurrent mask, Keras's step mask",
    "rnnkit.reference.rnn:rnn_forward": "the NumPy twin has the kernel's signature",
    "rnnkit.ops.lstm:lstm_forward": "the functional LSTM names each array it takes: x, three "
    "weights, both initial states, both activations, lengths, the recurrent mask",
    "rnnkit.reference.lstm:lstm_forward": "the NumPy twin has the kernel's signature",
    "rnnkit.ops.gru:gru_forward": "the functional GRU names each array it takes: x, three "
    "weights, the initial state, both activations, lengths, the recurrent mask",
    "rnnkit.reference.gru:gru_forward": "the NumPy twin has the kernel's signature",
    "rnnkit.ops.ln_rnn:ln_rnn_forward": "the functional layer-normalised RNN names each array "
    "it takes: x, three weights, the norm's scale and offset, h0, activation, lengths, mask",
    "rnnkit.reference.ln_rnn:ln_rnn_forward": "the NumPy twin has the kernel's signature",
}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking_block(node: ast.AST) -> TypeGuard[ast.If]:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere in the module, functions included, but
    not in the body of ``if TYPE_CHECKING:`` (its ``else:`` runs, so it counts)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if is_type_checking_block(node):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def is_extension_module(package: str, name: str) -> bool:
    """Whether ``package.name`` is a compiled module (``rnnkit._core``): outside the graph."""
    if package not in MODULES or MODULES[package].name != "__init__.py":
        return False
    folder = MODULES[package].parent
    return any(folder.glob(f"{name}.pyi")) or any(folder.glob(f"{name}.*so"))


def imported_modules(name: str, path: pathlib.Path) -> set[str]:
    """The package's modules that module ``name`` imports (``from X import y`` counts as
    importing ``X.y`` when that is a module, else ``X``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base_name = ".".join([*base, node.module] if node.module else base)
            else:
                base_name = node.module or ""
            candidates = [
                f"{base_name}.{alias.name}" if f"{base_name}.{alias.name}" in MODULES else base_name
                for alias in node.names
                if not is_extension_module(base_name, alias.name)
            ]
        targets.update(c for c in candidates if c in MODULES)
    targets.discard(name)
    return targets


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_is_read_from_the_source() -> None:
    """The graph the next test checks is the real one (a guard against an empty graph)."""
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert "rnnkit.network" in graph["rnnkit.models"]  # a package's __init__
    assert "rnnkit.training" in graph["rnnkit.models._model"]  # importing a package
    assert "rnnkit.training.trainer" in graph["rnnkit.training"]
    assert "rnnkit.layers.recurrent.base" in graph["rnnkit.layers.recurrent.simple_rnn"]
    assert "rnnkit.plot" in graph["rnnkit.inspection"]  # a function-level import counts
    assert "rnnkit.training" not in graph["rnnkit.callbacks"]  # TYPE_CHECKING does not
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_package() -> None:
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_long_modules_say_why() -> None:
    unexplained = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if LONG_MODULE_MARKER not in docstring:
            unexplained.append(f"{name} ({len(text.splitlines())} lines)")
    assert not unexplained, (
        f"modules over {MAX_LINES} lines whose docstring lacks {LONG_MODULE_MARKER!r} and a "
        f"reason (or split them): {unexplained}"
    )


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.FunctionDef]]:
    """``(qualified name, node)`` of every function and method, nested ones included."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((prefix + node.name, node))
            found += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            found += _functions(node, f"{prefix}{node.name}.")
        else:
            found += _functions(node, prefix)
    return found


def parameter_count(node: ast.FunctionDef) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (args.vararg is not None) + (args.kwarg is not None)


def test_no_function_takes_more_than_eight_parameters() -> None:
    too_many, exempt_seen = [], set()
    for name, path in MODULES.items():
        for qualified, node in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            key = f"{name}:{qualified}"
            if parameter_count(node) <= MAX_PARAMETERS:
                continue
            if key in PARAMETER_EXEMPTIONS:
                exempt_seen.add(key)
            else:
                too_many.append(f"{key} ({parameter_count(node)})")
    assert not too_many, f"functions with more than {MAX_PARAMETERS} parameters: {too_many}"
    stale = sorted(set(PARAMETER_EXEMPTIONS) - exempt_seen)
    assert not stale, f"exemptions for functions that no longer need them: {stale}"


def test_the_version_is_written_once() -> None:
    """``__version__`` in rnnkit/__init__.py is the only copy: pyproject.toml reads it (dynamic
    version, scikit-build-core's regex provider) and the installed metadata agrees."""
    pyproject = (PACKAGE.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert not re.search(r"^version\s*=", pyproject, re.M)
    assert 'metadata.version.input = "python/rnnkit/__init__.py"' in pyproject
    assert importlib.metadata.version("rnnkit") == rnnkit.__version__


def test_no_code_guesses_attribute_names_or_asks_for_a_simple_rnn() -> None:
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            args = node.args
            if (
                node.func.id in ("getattr", "hasattr")
                and len(args) >= 2
                and isinstance(args[1], ast.Constant)
            ):
                found.append(f"{name}:{node.lineno} {node.func.id}(..., {args[1].value!r})")
            if (
                node.func.id == "isinstance"
                and "SimpleRNN" in ast.unparse(args[1])
                and name != "rnnkit.layers.recurrent.simple_rnn"
            ):
                found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert not found, found
