"""Load a model by spec: a model file, `file.py:NAME`, `package.module:NAME`, a sample,
a `.pt2`, a `.keras` file or a TensorFlow SavedModel folder. A `@NAME` suffix runs
the model on what the model file's `NAME()` returns instead of `example_inputs()`.

Loading a model file runs its code, like `python file.py` would. Saved models load
safely: `.keras` in safe mode, `.pt2` through `torch.export.load` (no pickle).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SAMPLES_PACKAGE = "sample_models"
SAMPLES_DIR = Path(__file__).resolve().parent.parent / SAMPLES_PACKAGE


class TargetError(Exception):
    """A model could not be loaded or run; the message is a plain-words paragraph."""


@dataclass
class ModelTarget:
    """A loaded model with everything needed to capture and run it.

    `model` is an `nn.Module`, a Keras model, a `tf.Module`, a `tf.function` or a
    plain callable of TF ops. `example_inputs` is a tuple of framework tensors.
    `loss(output, *inputs)` gives a scalar for gradients, when the file defines one.
    """

    spec: str
    name: str
    framework: str  # "torch" or "tensorflow"
    model: Any
    example_inputs: tuple[Any, ...]
    loss: Callable[..., Any] | None = None
    description: str = ""
    source_path: str | None = None
    saved_format: str | None = None  # "pt2", "keras", "savedmodel" or None
    native: Any = None  # e.g. the ExportedProgram a .pt2 holds
    module: Any = None  # the model file's module, for train_step / data / inputs
    extra: dict[str, Any] = field(default_factory=dict)

    def call(self, *inputs: Any) -> Any:
        """Run the model's own forward on `inputs` (the example inputs when none)."""
        args = inputs or self.example_inputs
        return self.model(*args)


def missing_framework(package: str, exc: BaseException | None = None) -> TargetError:
    return TargetError(
        f"This model needs {package}, which is not installed in this Python "
        f"({sys.executable}). Install it with `pip install {package}` "
        f"(or `pip install graphstep[{'torch' if package == 'torch' else 'tensorflow'}]`)."
        + (f" The import failed with: {exc}" if exc else "")
    )


def framework_of(obj: Any) -> str | None:
    """`torch`, `tensorflow`, or None, without importing a framework that is not loaded."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(obj, torch.nn.Module) or (
            inspect.isclass(obj) and issubclass(obj, torch.nn.Module)
        ):
            return "torch"
        if isinstance(obj, torch.Tensor):
            return "torch"
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        if isinstance(obj, tf.Module | tf.Tensor | tf.Variable):
            return "tensorflow"
        keras = sys.modules.get("keras")
        if keras is not None and isinstance(obj, keras.Model | keras.layers.Layer):
            return "tensorflow"
        if inspect.isclass(obj) and (issubclass(obj, tf.Module)):
            return "tensorflow"
        if type(obj).__module__.startswith("tensorflow"):
            return "tensorflow"
    return None


def _describe(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# ---------------------------------------------------------------------------- specs


def load_target(spec: str, *, allow_pickle: bool = False) -> ModelTarget:
    """Load `spec` into a ModelTarget, or raise TargetError naming the cause."""
    spec = str(spec).strip()
    if not spec:
        raise TargetError("No model given. Pass a model file, a sample name, or a saved model.")
    base, inputs_name = _split_inputs(spec)
    if inputs_name is not None:
        return _with_inputs(load_target(base, allow_pickle=allow_pickle), spec, inputs_name)
    path = Path(spec)
    if path.suffix == ".pt2":
        return _load_pt2(spec, path, allow_pickle)
    if path.suffix in (".keras", ".h5"):
        return _load_keras(spec, path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return _load_savedmodel(spec, path)
    if path.is_dir():
        raise TargetError(
            f"{spec} is a folder but not a TensorFlow SavedModel (it has no saved_model.pb)."
        )

    file_part, name = _split_name(spec)
    if file_part.endswith(".py") or "/" in file_part or Path(file_part).exists():
        module = _import_file(Path(file_part))
        return _from_module(spec, module, name, Path(file_part))
    if (SAMPLES_DIR / f"{file_part}.py").exists():
        module = _import_module(f"{SAMPLES_PACKAGE}.{file_part}", spec)
        return _from_module(spec, module, name, SAMPLES_DIR / f"{file_part}.py")
    if "." in file_part or name:
        module = _import_module(file_part, spec)
        return _from_module(spec, module, name, Path(getattr(module, "__file__", "") or ""))
    raise TargetError(
        f"No model file, sample or saved model named {spec!r}. "
        f"Give a path to a .py file, a .pt2 / .keras file, a SavedModel folder, "
        f"`package.module:NAME`, or one of the samples (`graphstep samples` lists them)."
    )


def _split_name(spec: str) -> tuple[str, str | None]:
    """`file.py:NAME` -> (`file.py`, `NAME`); a Windows drive letter is not a NAME."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail and "/" not in tail and "\\" not in tail and len(head) > 1:
        return head, tail
    return spec, None


def _split_inputs(spec: str) -> tuple[str, str | None]:
    """`SPEC@NAME` -> (`SPEC`, `NAME`) when NAME is an identifier and no such file exists."""
    head, sep, tail = spec.rpartition("@")
    if sep and head and tail.isidentifier() and not Path(spec).exists():
        return head, tail
    return spec, None


def _with_inputs(target: ModelTarget, spec: str, name: str) -> ModelTarget:
    """`target` run on the inputs its model file's `NAME()` returns instead of example_inputs."""
    where = target.source_path or target.spec
    maker = getattr(target.module, name, None) if target.module is not None else None
    if maker is None:
        raise TargetError(
            f"{where} has no inputs function {name!r}: `{spec}` runs the model on what "
            f"`{name}()` in the model file returns."
        )
    try:
        inputs = maker() if callable(maker) else maker
    except Exception as exc:
        raise TargetError(f"`{name}()` in {where} raised {_exc_line(exc)}") from exc
    target = replace(
        target,
        spec=spec,
        name=f"{target.name}@{name}",
        example_inputs=inputs if isinstance(inputs, tuple) else (inputs,),
    )
    check_inputs(target)
    return target


def _import_file(path: Path) -> Any:
    if not path.exists():
        raise TargetError(f"Model file {path} does not exist.")
    if path.is_dir():
        raise TargetError(f"{path} is a folder, not a model file.")
    source = path.read_text(encoding="utf-8", errors="replace")
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise TargetError(
            f"Model file {path} has a syntax error at line {exc.lineno}: {exc.msg}."
            + (f"\n    {exc.text.rstrip()}" if exc.text else "")
        ) from exc
    mod_name = f"graphstep_model_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{path} cannot be imported as a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look the module up
    _exec_module(spec.loader.exec_module, module, str(path))
    return module


def _import_module(name: str, spec: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in ("torch", "tensorflow", "keras"):
            raise missing_framework("torch" if exc.name == "torch" else "tensorflow", exc) from exc
        if exc.name and name.startswith(exc.name):
            raise TargetError(
                f"No model file, sample or module named {spec!r} (Python found no module "
                f"{exc.name!r})."
            ) from exc
        raise TargetError(f"Importing {name} failed: {exc}") from exc
    except SyntaxError as exc:
        raise TargetError(
            f"Module {name} has a syntax error in {exc.filename} at line {exc.lineno}: {exc.msg}."
        ) from exc
    except Exception as exc:
        raise TargetError(f"Importing {name} raised {_exc_line(exc)}") from exc


def _exec_module(run: Callable[[Any], None], module: Any, where: str) -> None:
    try:
        run(module)
    except ModuleNotFoundError as exc:
        if exc.name in ("torch", "tensorflow", "keras"):
            raise missing_framework("torch" if exc.name == "torch" else "tensorflow", exc) from exc
        raise TargetError(f"Running {where} failed on an import: {exc}") from exc
    except Exception as exc:
        raise TargetError(f"Running {where} raised {_exc_line(exc)}") from exc


def _exc_line(exc: BaseException) -> str:
    """`ValueError: message (file.py:12)` for the innermost frame in user code (the
    innermost frame of all when none is the user's)."""
    tb = traceback.extract_tb(exc.__traceback__)
    user = [f for f in tb if _is_user_frame(f.filename)]
    frame = (user or tb)[-1] if tb else None
    where = f" ({Path(frame.filename).name}:{frame.lineno})" if frame else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}"


def _doc_line(module: Any) -> str:
    doc = inspect.getdoc(module) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _from_module(spec: str, module: Any, name: str | None, path: Path) -> ModelTarget:
    attr = name or "build"
    if not hasattr(module, attr):
        if name:
            raise TargetError(f"{path} has no object named {name!r}.")
        raise TargetError(
            f"{path} defines no `build()`. A model file defines `build()` returning the model "
            f"and `example_inputs()`; or name the object to load as `{path}:NAME`."
        )
    obj = getattr(module, attr)
    model = _instantiate(obj, attr, path, is_build=name is None)
    framework = framework_of(model)
    if framework is None and callable(model) and _uses_tensorflow(module):
        framework = "tensorflow"  # a plain function of TF ops
    if framework is None:
        raise TargetError(
            f"`{attr}` in {path} gave a {_describe(model)}, which is not a model: expected a "
            f"torch nn.Module, a Keras model, a tf.Module, a tf.function or a function of "
            f"TensorFlow ops."
        )
    inputs = _example_inputs(module, model, framework, path)
    loss = getattr(module, "loss", None)
    target = ModelTarget(
        spec=spec,
        name=(name or path.stem),
        framework=framework,
        model=model,
        example_inputs=inputs,
        loss=loss if callable(loss) else None,
        description=_doc_line(module),
        source_path=str(path),
        module=module,
    )
    check_inputs(target)
    return target


def _uses_tensorflow(module: Any) -> bool:
    """Whether a model file imported tensorflow or keras (then a plain callable is TF ops)."""
    for value in vars(module).values():
        root = getattr(value, "__name__", "") if inspect.ismodule(value) else ""
        if root.split(".")[0] in ("tensorflow", "keras"):
            return True
    return False


def _instantiate(obj: Any, attr: str, path: Path, *, is_build: bool) -> Any:
    """A model instance from a model, a model class, or a zero-argument factory."""
    if framework_of(obj) is not None and not inspect.isclass(obj):
        return obj
    tf = sys.modules.get("tensorflow")
    if tf is not None and _is_tf_function(obj):
        return obj
    if inspect.isclass(obj) or is_build or _takes_no_arguments(obj):
        if not _takes_no_arguments(obj) and not inspect.isclass(obj):
            raise TargetError(f"`{attr}` in {path} must take no arguments to build the model.")
        try:
            made = obj()
        except TypeError as exc:
            if inspect.isclass(obj):
                raise TargetError(
                    f"`{attr}` in {path} is a class whose constructor needs arguments ({exc}); "
                    f"add a zero-argument factory and load that instead."
                ) from exc
            raise TargetError(f"Calling `{attr}()` in {path} raised {_exc_line(exc)}") from exc
        except ModuleNotFoundError as exc:
            if exc.name in ("torch", "tensorflow", "keras"):
                raise missing_framework(
                    "torch" if exc.name == "torch" else "tensorflow", exc
                ) from exc
            raise TargetError(f"Calling `{attr}()` in {path} raised {_exc_line(exc)}") from exc
        except Exception as exc:
            raise TargetError(f"Calling `{attr}()` in {path} raised {_exc_line(exc)}") from exc
        return made
    return obj  # a plain function of TF ops taking the inputs


def _is_tf_function(obj: Any) -> bool:
    return type(obj).__name__ in ("Function", "ConcreteFunction", "PolymorphicFunction") and (
        type(obj).__module__.startswith("tensorflow")
    )


def _takes_no_arguments(obj: Any) -> bool:
    if not callable(obj):
        return False
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not inspect.Parameter.empty
        or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in sig.parameters.values()
    )


def _example_inputs(module: Any, model: Any, framework: str, path: Path) -> tuple[Any, ...]:
    maker = getattr(module, "example_inputs", None)
    if maker is not None:
        try:
            inputs = maker() if callable(maker) else maker
        except Exception as exc:
            raise TargetError(f"`example_inputs()` in {path} raised {_exc_line(exc)}") from exc
        return inputs if isinstance(inputs, tuple) else (inputs,)
    made = _inputs_from_signature(model, framework)
    if made is not None:
        return made
    raise TargetError(
        f"{path} has no `example_inputs()` and the model's input shape is not known, so "
        f"Graphstep cannot make inputs to run it. Add `def example_inputs(): return "
        f"(tensor, ...)` to the file."
    )


def _inputs_from_signature(model: Any, framework: str) -> tuple[Any, ...] | None:
    """Random inputs from a Keras model's input shape or a tf.function's signature."""
    if framework != "tensorflow":
        return None
    import tensorflow as tf

    specs: list[Any] = []
    inputs = getattr(model, "inputs", None)
    try:
        if inputs:
            specs = [tf.TensorSpec(t.shape, t.dtype) for t in inputs]
        elif getattr(model, "input_signature", None):
            specs = list(model.input_signature)
    except (AttributeError, ValueError):
        return None
    if not specs:
        return None
    out: list[Any] = []
    for s in specs:
        shape = [1 if d is None else int(d) for d in s.shape]
        dtype = tf.as_dtype(s.dtype)
        if dtype.is_floating:
            out.append(tf.random.stateless_normal(shape, seed=(0, len(out)), dtype=dtype))
        elif dtype.is_integer:
            out.append(tf.zeros(shape, dtype))
        else:
            return None
    if inputs and len(out) > 1:
        return (out,)  # a multi-input Keras model takes one list: model([a, b])
    return tuple(out)


def check_inputs(target: ModelTarget) -> None:
    """Run the model once on its example inputs. A model that raises is still loaded:
    finding where it fails is what the debugger is for. The framework's message goes
    in `target.extra["forward_error"]`; a capture that cannot get past it raises it."""
    try:
        target.call()
    except Exception as exc:
        shapes = ", ".join(
            _shape_of(t)
            if not isinstance(t, list | tuple)
            else "[" + ", ".join(map(_shape_of, t)) + "]"
            for t in target.example_inputs
        )
        target.extra["forward_error"] = (
            f"The model raised on its example inputs ({shapes}): {_exc_line(exc)}"
        )


_NOT_USER = ("site-packages", "dist-packages", "<frozen", "<string>")


def _is_user_frame(filename: str) -> bool:
    """A frame of the user's code: not a library's, Python's own, or Graphstep's."""
    if any(marker in filename for marker in _NOT_USER):
        return False
    here = str(Path(__file__).resolve().parent)
    stdlib = str(Path(os.__file__).resolve().parent)
    return not filename.startswith((here, stdlib))


def _shape_of(t: Any) -> str:
    shape = getattr(t, "shape", None)
    dtype = getattr(t, "dtype", None)
    if shape is None:
        return type(t).__name__
    return f"{list(shape)} {str(dtype).replace('torch.', '').replace('<dtype: ', '').rstrip('>')}"


# ---------------------------------------------------------------------- saved models


def _not_a_zip(path: Path, what: str, writer: str) -> TargetError | None:
    """The error for a saved model that is not the zip archive its format is, or None.

    Checked before the framework reads the file: Keras then says "File not found" for
    a file that exists, and torch logs its own 13-line traceback first.
    """
    if path.is_dir():
        return TargetError(f"{path} is a folder, not {what} (a zip file that {writer} writes).")
    try:
        if zipfile.is_zipfile(path):
            return None
        size = path.stat().st_size
    except OSError as exc:
        return TargetError(f"{path} cannot be read: {exc.strerror or exc}.")
    state = "is empty" if size == 0 else "is not a zip file (truncated, or another format)"
    return TargetError(f"{path} is not {what}: it {state}; {writer} writes a zip file.")


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return []


@contextlib.contextmanager
def _quiet_torch_export_log() -> Iterator[list[BaseException]]:
    """Hold back the traceback `torch.export.load` logs (as a warning) before it raises
    on a damaged archive; the exceptions it would have shown are collected instead, so
    the TargetError can name the first cause in one line."""
    logger = logging.getLogger("torch.export")
    held: list[BaseException] = []

    def drop(record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Ran into the following error when deserializ"):
            return True
        if record.exc_info and record.exc_info[1] is not None:
            held.append(record.exc_info[1])
        return False

    logger.addFilter(drop)
    try:
        yield held
    finally:
        logger.removeFilter(drop)


def _load_pt2(spec: str, path: Path, allow_pickle: bool) -> ModelTarget:
    if not path.exists():
        raise TargetError(f"Saved model {path} does not exist.")
    not_zip = _not_a_zip(path, "a torch.export archive (.pt2)", "torch.export.save")
    if not_zip is not None:
        raise not_zip
    try:
        import torch
    except ImportError as exc:
        raise missing_framework("torch", exc) from exc
    held: list[BaseException] = []
    try:
        with _quiet_torch_export_log() as held:
            program = torch.export.load(str(path))
    except Exception as exc:
        cause = held[0] if held else exc  # torch's own first error, not "see above"
        raise TargetError(
            f"{path} is not a readable torch.export archive (.pt2): {_exc_line(cause)}"
        ) from exc
    inputs = program.example_inputs[0] if program.example_inputs else None
    if not inputs:
        raise TargetError(f"{path} holds no example inputs, so Graphstep cannot run it.")
    target = ModelTarget(
        spec=spec,
        name=path.stem,
        framework="torch",
        model=program.module(),
        example_inputs=tuple(inputs),
        description=f"torch.export program loaded from {path.name}",
        source_path=str(path),
        saved_format="pt2",
        native=program,
    )
    check_inputs(target)
    return target


def _load_keras(spec: str, path: Path) -> ModelTarget:
    if not path.exists():
        raise TargetError(f"Saved model {path} does not exist.")
    if path.suffix == ".keras" and not (path / "config.json").is_file():  # not a Keras folder
        not_zip = _not_a_zip(path, "a Keras archive", "model.save()")
        if not_zip is not None:
            raise not_zip
        if "config.json" not in _zip_names(path):
            raise TargetError(
                f"{path} is not a Keras archive: the zip file holds no config.json, which "
                f"every model.save() archive has."
            )
    try:
        import keras
    except ImportError as exc:
        raise missing_framework("tensorflow", exc) from exc
    try:
        model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:
        raise TargetError(f"{path} is not a loadable Keras model: {_exc_line(exc)}") from exc
    inputs = _inputs_from_signature(model, "tensorflow")
    if inputs is None:
        raise TargetError(f"{path} does not record its input shape, so no inputs can be made.")
    target = ModelTarget(
        spec=spec,
        name=path.stem,
        framework="tensorflow",
        model=model,
        example_inputs=inputs,
        description=f"Keras model loaded from {path.name}",
        source_path=str(path),
        saved_format="keras",
    )
    check_inputs(target)
    return target


def _load_savedmodel(spec: str, path: Path) -> ModelTarget:
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise missing_framework("tensorflow", exc) from exc
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise TargetError(f"{path} is not a loadable SavedModel: {_exc_line(exc)}") from exc
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if not signatures:
        raise TargetError(f"SavedModel {path} has no serving signatures to run.")
    key = "serving_default" if "serving_default" in signatures else sorted(signatures)[0]
    fn = signatures[key]
    _, kw_specs = fn.structured_input_signature
    names = sorted(kw_specs)

    def serve(*args: Any) -> Any:
        return fn(**dict(zip(names, args, strict=True)))

    specs = [kw_specs[n] for n in names]
    inputs = []
    for i, s in enumerate(specs):
        shape = [1 if d is None else int(d) for d in s.shape]
        dtype = tf.as_dtype(s.dtype)
        if dtype.is_floating:
            inputs.append(tf.random.stateless_normal(shape, seed=(0, i), dtype=dtype))
        else:
            inputs.append(tf.zeros(shape, dtype))
    target = ModelTarget(
        spec=spec,
        name=path.name,
        framework="tensorflow",
        model=serve,
        example_inputs=tuple(inputs),
        description=f"SavedModel signature {key!r} from {path.name}",
        source_path=str(path),
        saved_format="savedmodel",
        native=fn,
        extra={"signature": key, "input_names": names, "loaded": loaded},
    )
    check_inputs(target)
    return target


# ---------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class SampleInfo:
    name: str
    description: str
    framework: str
    path: Path


def list_samples() -> list[SampleInfo]:
    """Every sample model file, with the first line of its docstring; imports nothing."""
    import ast

    out = []
    for path in sorted(SAMPLES_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        doc = (ast.get_docstring(tree) or "").strip()
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        framework = "torch" if "torch" in imported else "tensorflow"
        out.append(SampleInfo(path.stem, doc.splitlines()[0] if doc else "", framework, path))
    return out
