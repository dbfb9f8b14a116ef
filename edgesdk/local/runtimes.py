"""Tensor runtimes for the perception models: LiteRT (.tflite) and onnxruntime (.onnx).

Perception code should not care which engine runs a network, so both engines sit behind one
tiny seam, :class:`TensorModel` (named inputs in, named outputs out). The engines are heavy,
optional extras: they are imported only when a model is loaded, and a missing engine becomes a
:class:`~edgesdk.errors.MissingExtra` that names the pip extra. The thread count comes from the
device profile, because a watch and an edge box should not fight over cores the same way.
Any failure of an engine to parse a file is translated to :class:`ModelLoadError` here, and a
failure while running to :class:`ModelError`, so no engine exception escapes the seam.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from edgesdk.errors import MissingExtra, ModelError, ModelLoadError

Array = npt.NDArray[Any]
Engine = Literal["litert", "onnxruntime"]


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (-1 for dynamic), dtype and (scale, zero_point) quantisation of a tensor."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    quantization: tuple[float, int] = (0.0, 0)


class TensorModel(Protocol):
    """A loaded network: named float/int arrays in, named arrays out."""

    @property
    def path(self) -> Path: ...

    @property
    def inputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    def outputs(self) -> tuple[TensorSpec, ...]: ...

    def run(self, feeds: Mapping[str, Array]) -> dict[str, Array]: ...

    def reset(self) -> None:
        """Clear internal state (streaming models with variables); no-op for stateless ones."""
        ...


def _import(module: str, *, extra: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module=module.split(".")[0], extra=extra, purpose=purpose) from exc


def _interpreter_class(purpose: str, extra: str) -> Any:
    """``ai_edge_litert`` (current name of TFLite), else the older ``tflite_runtime`` wheel."""
    try:
        return importlib.import_module("ai_edge_litert.interpreter").Interpreter
    except ImportError:
        pass
    try:
        return importlib.import_module("tflite_runtime.interpreter").Interpreter
    except ImportError as exc:
        raise MissingExtra(module="ai_edge_litert", extra=extra, purpose=purpose) from exc


class LiteRTModel:
    """A .tflite network on the LiteRT interpreter (XNNPACK on CPU)."""

    def __init__(self, *, path: Path, threads: int, extra: str = "vision") -> None:
        self._cls = _interpreter_class(f"running {path.name}", extra)
        self._threads = threads
        self.path = path
        self._open()
        self._in = self._it.get_input_details()
        self._out = self._it.get_output_details()
        self.inputs = tuple(_spec(d) for d in self._in)
        self.outputs = tuple(_spec(d) for d in self._out)

    def _open(self) -> None:
        try:
            self._it = self._cls(model_path=str(self.path), num_threads=self._threads)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(
                f"LiteRT could not load {self.path}: {exc}. Re-fetch the model with "
                "'edgesdk models fetch ID --force'"
            ) from exc

    def run(self, feeds: Mapping[str, Array]) -> dict[str, Array]:
        try:
            for detail in self._in:
                self._it.set_tensor(detail["index"], feeds[detail["name"]])
            self._it.invoke()
            return {d["name"]: self._it.get_tensor(d["index"]) for d in self._out}
        except KeyError as exc:
            raise ModelError(f"{self.path.name}: missing input {exc}; this is a bug") from exc
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT failed on {self.path.name}: {exc}") from exc

    def reset(self) -> None:
        # reset_all_variables() zeroes streaming state, but some models initialise it to
        # other values in an init subgraph; reopening (cheap for small models) is exact.
        self._open()


def _spec(detail: Mapping[str, Any]) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        name=str(detail["name"]),
        shape=tuple(int(x) for x in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        quantization=(float(scale), int(zero)),
    )


_ORT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class OnnxModel:
    """An .onnx network on onnxruntime's CPU provider."""

    def __init__(self, *, path: Path, threads: int, extra: str = "vision") -> None:
        ort = _import("onnxruntime", extra=extra, purpose=f"running {path.name}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._sess = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped Fail/InvalidProtobuf
            raise ModelLoadError(
                f"onnxruntime could not load {path}: {exc}. Re-fetch the model with "
                "'edgesdk models fetch ID --force'"
            ) from exc
        self.path = path
        self.inputs = tuple(
            TensorSpec(
                name=i.name,
                shape=tuple(d if isinstance(d, int) else -1 for d in i.shape),
                dtype=np.dtype(_ORT_TYPES.get(i.type, np.float32)),
            )
            for i in self._sess.get_inputs()
        )
        self.outputs = tuple(
            TensorSpec(name=o.name, shape=(), dtype=np.dtype(np.float32))
            for o in self._sess.get_outputs()
        )
        self.metadata: dict[str, str] = dict(self._sess.get_modelmeta().custom_metadata_map)

    def run(self, feeds: Mapping[str, Array]) -> dict[str, Array]:
        names = [o.name for o in self.outputs]
        try:
            values = self._sess.run(names, dict(feeds))
        except Exception as exc:  # onnxruntime's errors are not typed
            raise ModelError(f"onnxruntime failed on {self.path.name}: {exc}") from exc
        return dict(zip(names, values))

    def reset(self) -> None:
        return None


def load_tensor_model(
    path: Path, *, engine: Engine, threads: int, extra: str = "vision"
) -> LiteRTModel | OnnxModel:
    """Open ``path`` on ``engine`` with ``threads`` intra-op threads."""
    if engine == "litert":
        return LiteRTModel(path=path, threads=threads, extra=extra)
    return OnnxModel(path=path, threads=threads, extra=extra)
