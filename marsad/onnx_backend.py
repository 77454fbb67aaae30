"""ONNX Runtime backend for :class:`marsad.predictor.Predictor`: the encoder and tag head as one
ONNX graph, run with onnxruntime; the relation head, the priors and decoding stay in torch.

Why: the encoder forward is nearly all of prediction's cost on a CPU, and onnxruntime fuses
attention, layer norm and GELU and quantises the whole graph, where torch's dynamic int8 only
swaps the linear layers (docs/speed.md, "Why 1.8x is out of reach"). Measured figures and the
tolerance are in docs/onnx.md.

The graph takes ``input_ids`` and ``attention_mask`` ``[batch, sequence]`` (both axes dynamic) and
returns ``logits`` ``[batch, sequence, tags]`` and ``last_hidden_state`` ``[batch, sequence,
hidden]``, the two tensors :func:`marsad.inference.extract` reads from the tagger. Variants:

- ``fp32``: the exported graph;
- ``dynamic``: int8 weights (per output channel), activations quantised per batch at run time;
- ``static``: int8 weights (per channel) and activations with scales calibrated on training
  sentences (QDQ format).

Both int8 variants are exported from the smoothed encoder (the activation ranges of
``activation_absmax.safetensors``, as torch's int8, :mod:`marsad.quantization`) when the
checkpoint has them. Where graphs live: ``marsad export-onnx CKPT`` writes them under ``CKPT/onnx/``
(a sub-directory, so the checkpoint's file list, which names the files beside ``marsad.json``, and
the HF layout are untouched), with ``onnx/manifest.json`` holding the SHA-256 of the weights they
were exported from and of each graph. Without it a graph is built on first use and cached under
``$MARSAD_CACHE/onnx/<key>/`` (default ``~/.cache/marsad``), ``key`` derived from the weights'
hashes, so a changed checkpoint never reuses a stale graph.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from marsad.fileio import atomic_directory, atomic_write_text, cache_root
from marsad.model.checkpoint import FILES_KEY, CheckpointError, Loaded, sha256_file
from marsad.model.joint import JointModel

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"  # inside a checkpoint: a sub-directory, outside the checkpoint's file list
MANIFEST = "manifest.json"
GRAPHS = {
    "fp32": "model.onnx",
    "dynamic": "model.int8-dynamic.onnx",
    "static": "model.int8-static.onnx",
}
INT8_VARIANTS = ("dynamic", "static")
# what ``quantize=True`` means with the onnxruntime backend: chosen on dev (docs/onnx.md)
SHIPPED_INT8 = "dynamic"
FORMAT_VERSION = 1  # bump when the graph's inputs, outputs or build change
OPSET = 17
CALIBRATION_SENTENCES = 200
INSTALL_HINT = "pip install 'marsad[onnx]'"
WEIGHT_FILES = ("model.safetensors", "activation_absmax.safetensors")


def require_onnxruntime() -> Any:
    """``onnxruntime``, or an ImportError naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "the onnxruntime backend needs the onnxruntime and onnx packages, which are not "
            f"installed: {INSTALL_HINT} (the 'onnx' extra)"
        ) from exc
    return onnxruntime


def variant_of(quantize: bool | str | None) -> str:
    """The graph variant a ``quantize=`` argument asks for (True: the dev-chosen int8)."""
    if quantize is None or quantize is False:
        return "fp32"
    if quantize is True:
        return SHIPPED_INT8
    if quantize in INT8_VARIANTS or quantize == "fp32":
        return str(quantize)
    raise ValueError(
        f"quantize={quantize!r}: expected False, True ({SHIPPED_INT8}), 'dynamic' or 'static'"
    )


def check_supported(loaded: Loaded, directory: Path) -> None:
    """Refuse what the graph cannot run: levitated markers run a second encoder pass per pair
    inside the relation head, which needs the torch encoder."""
    if loaded.model.relation_head.markers is not None:
        raise ValueError(
            f"{directory}: the relation head uses levitated markers (relation_markers=true), "
            "which run the torch encoder a second time per pair; the onnxruntime backend does "
            "not support it: use backend='torch'"
        )


def weights_key(directory: Path, meta: dict[str, Any]) -> str:
    """A hash of what the graphs are built from (tagger weights, activation ranges, this format):
    the file list's SHA-256 where the checkpoint has one (checked at load), else computed."""
    listed = meta.get(FILES_KEY) or {}
    parts = [f"format {FORMAT_VERSION}"]
    for name in WEIGHT_FILES:
        path = Path(directory) / name
        if name in listed:
            parts.append(f"{name} {listed[name]['sha256']}")
        elif path.is_file():
            parts.append(f"{name} {sha256_file(path)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


class _GraphModule(nn.Module):
    """The tagger as the graph computes it: tag logits and the last hidden states."""

    def __init__(self, tagger: nn.Module):
        super().__init__()
        self.tagger = tagger

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.tagger(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
        )
        return out.logits, out.hidden_states[-1]


class _SmoothedLinear(nn.Module):
    """fp32 ``Linear`` with the smoothing of :class:`marsad.quantization.SmoothedInt8Linear`
    folded in (input divided, weight columns multiplied per channel): the same product, but the
    outlier channels move into the weights before onnxruntime quantises them."""

    def __init__(self, linear: nn.Linear, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("inv_scale", (1.0 / scale).to(linear.weight.dtype))
        self.linear = nn.Linear(
            linear.in_features, linear.out_features, bias=linear.bias is not None
        )
        with torch.no_grad():
            self.linear.weight.copy_(linear.weight * scale[None, :])
            if linear.bias is not None:
                self.linear.bias.copy_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inv_scale)


def smoothed_tagger(tagger: nn.Module, absmax: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``tagger`` whose encoder linear layers are smoothed (the checkpoint's activation
    ranges, :data:`marsad.quantization.SMOOTHING_ALPHA`); the tag head is left as it is."""
    from marsad.quantization import SMOOTHING_ALPHA

    tagger = copy.deepcopy(tagger)
    encoder = tagger.base_model
    for name, linear in [(n, m) for n, m in encoder.named_modules() if isinstance(m, nn.Linear)]:
        if name not in absmax or absmax[name].numel() != linear.in_features:
            raise ValueError(f"activation ranges lack encoder layer {name}: not this encoder's")
        x_max = absmax[name].clamp(min=1e-5)
        w_max = linear.weight.detach().abs().amax(dim=0).clamp(min=1e-5)
        scale = (x_max**SMOOTHING_ALPHA / w_max ** (1 - SMOOTHING_ALPHA)).clamp(min=1e-5)
        parent, _, attr = name.rpartition(".")
        setattr(encoder.get_submodule(parent), attr, _SmoothedLinear(linear, scale))
    return tagger


@torch.inference_mode()
def export_graph(tagger: nn.Module, path: Path, max_length: int) -> None:
    """The tagger as an ONNX graph at ``path`` (TorchScript exporter: one self-contained file),
    with dynamic batch and sequence axes. The example input has a padded row, so the attention
    mask's path is the one traced."""
    module = _GraphModule(tagger).eval()
    length = min(16, max_length)
    ids = torch.full((2, length), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, length // 2 :] = 0
    axes = {"batch": 0, "sequence": 1}
    dynamic = {
        name: {i: a for a, i in axes.items()}
        for name in ("input_ids", "attention_mask", "logits", "last_hidden_state")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        torch.onnx.export(
            module,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits", "last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )


class _Calibration:
    """onnxruntime's calibration reader over encoder windows of training sentences, in batches."""

    def __init__(self, batches: list[dict[str, Any]]):
        self._batches = iter(batches)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._batches, None)


def calibration_batches(
    loaded: Loaded, sentences: list[list[str]], batch_size: int = 16
) -> list[dict[str, Any]]:
    """Padded windows of ``sentences`` as the graph's inputs (numpy), sorted by length."""
    from marsad.inference import pad_batch
    from marsad.model.windows import make_windows

    windows = [
        w
        for words in sentences
        if words
        for w in make_windows(loaded.tokenizer, words, loaded.preprocessing, loaded.max_length)
    ]
    windows.sort(key=lambda w: len(w.input_ids))
    out = []
    for b in range(0, len(windows), batch_size):
        ids, mask = pad_batch(
            windows[b : b + batch_size], loaded.tokenizer.pad_token_id, torch.device("cpu")
        )
        out.append({"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    return out


def training_sentences(
    meta: dict[str, Any], data: Path | str | None = None, limit: int = CALIBRATION_SENTENCES
) -> list[list[str]]:
    """Word lists of the checkpoint's training sentences (its recorded corpus and fold, or
    ``data``), an even spread of at most ``limit``: static int8's calibration set."""
    from marsad.data.examples import load_examples

    recorded = meta.get("data") or {}
    directory = Path(data if data is not None else recorded.get("dir", "data"))
    run = str(recorded.get("run", "default (fold0)"))
    fold = None if run.startswith("default") else int(run.removeprefix("fold"))
    try:
        train = load_examples(directory, fold)["train"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"static int8 calibrates on training sentences, and the corpus {directory} cannot be "
            f"read ({type(exc).__name__}: {exc}); pass its directory (calibration_data= or "
            "marsad export-onnx --data DIR), or use quantize='dynamic'"
        ) from exc
    step = max(1, len(train) // limit)
    return [ex.words for ex in train[::step][:limit]]


def build_graph(
    loaded: Loaded,
    directory: Path,
    variant: str,
    dest: Path,
    calibration_data: Path | str | None = None,
) -> None:
    """Write the ``variant`` graph of the checkpoint at ``directory`` (loaded as ``loaded``) to
    ``dest``, through a temporary file beside it."""
    require_onnxruntime()
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from safetensors.torch import load_file

    from marsad.quantization import ACTIVATION_FILE

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmp:
        work = Path(tmp) / "model.onnx"
        tagger = loaded.model.tagger
        if variant in INT8_VARIANTS:
            stats = Path(directory) / ACTIVATION_FILE
            if stats.is_file():
                tagger = smoothed_tagger(tagger, load_file(str(stats)))
            else:
                logger.warning(
                    "%s: no %s: int8 without smoothing, expect a few F1 points less",
                    directory,
                    ACTIVATION_FILE,
                )
        export_graph(tagger, work, loaded.max_length)
        out = Path(tmp) / "out.onnx"
        # the tag head stays fp32, as with torch's int8 (it is tiny and reads the logits directly)
        head = _head_nodes(work)
        if variant == "fp32":
            out = work
        elif variant == "dynamic":
            quantize_dynamic(
                work,
                out,
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=head,
            )
        elif variant == "static":
            reader = _Calibration(
                calibration_batches(loaded, training_sentences(loaded.meta, calibration_data))
            )
            quantize_static(
                work,
                out,
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=head,
                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
            )
        else:
            raise ValueError(f"unknown graph variant {variant!r}: one of {sorted(GRAPHS)}")
        os.replace(out, dest)


def _head_nodes(path: Path) -> list[str]:
    """Names of the graph's nodes belonging to the tag head (left in fp32)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if "classifier" in n.name]


def _manifest_entry(path: Path) -> dict[str, Any]:
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def write_checkpoint_graphs(
    loaded: Loaded,
    directory: Path,
    variants: list[str],
    calibration_data: Path | str | None = None,
) -> Path:
    """``marsad export-onnx``: the graphs of ``variants`` in ``directory/onnx/`` with its
    manifest, written as one directory swapped into place (readers see the old set or the new)."""
    directory = Path(directory)
    key = weights_key(directory, loaded.meta)
    with atomic_directory(directory / ONNX_DIR) as tmp:
        graphs = {}
        for variant in variants:
            path = tmp / GRAPHS[variant]
            build_graph(loaded, directory, variant, path, calibration_data)
            graphs[variant] = _manifest_entry(path)
        _write_manifest(tmp / MANIFEST, key, graphs)
    return directory / ONNX_DIR


def _write_manifest(path: Path, key: str, graphs: dict[str, Any]) -> None:
    manifest = {
        "format_version": FORMAT_VERSION,
        "weights_key": key,
        "opset": OPSET,
        "torch": torch.__version__,
        "graphs": graphs,
    }
    atomic_write_text(path, json.dumps(manifest, indent=1) + "\n")


def _read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}): rerun marsad export-onnx"
        ) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("graphs"), dict):
        raise CheckpointError(f"{path}: no 'graphs' object: not written by marsad export-onnx")
    return manifest


def _checked(folder: Path, manifest: dict[str, Any], variant: str, hashes: bool) -> Path | None:
    """The manifest's graph for ``variant`` in ``folder``, its size and SHA-256 checked (a
    mismatch names the file); None when the manifest has no such graph."""
    entry = manifest["graphs"].get(variant)
    if entry is None:
        return None
    path = folder / GRAPHS[variant]
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (listed in {folder / MANIFEST})")
    if path.stat().st_size != entry.get("bytes") or (
        hashes and sha256_file(path) != entry.get("sha256")
    ):
        raise CheckpointError(
            f"{path}: size or SHA-256 differs from {folder / MANIFEST}: the graph is damaged or "
            "was changed after export; delete it or rerun marsad export-onnx"
        )
    return path


def graph_cache_dir(key: str) -> Path:
    return cache_root() / "onnx" / key


def resolve_graph(
    loaded: Loaded,
    directory: Path,
    variant: str,
    verify_hashes: bool = True,
    calibration_data: Path | str | None = None,
) -> Path:
    """The ``variant`` graph for this checkpoint: the one ``marsad export-onnx`` wrote into it if
    it matches the weights, else the cached one, else built now into the cache."""
    directory = Path(directory)
    key = weights_key(directory, loaded.meta)
    own = directory / ONNX_DIR
    manifest = _read_manifest(own / MANIFEST)
    if manifest is not None:
        if manifest.get("weights_key") == key:
            path = _checked(own, manifest, variant, verify_hashes)
            if path is not None:
                return path
        else:
            logger.warning(
                "%s was exported from other weights (or by another version of this code); "
                "ignored: rerun marsad export-onnx %s",
                own / MANIFEST,
                directory,
            )
    cache = graph_cache_dir(key)
    manifest = _read_manifest(cache / MANIFEST) or {"graphs": {}}
    path = _checked(cache, manifest, variant, verify_hashes) if manifest["graphs"] else None
    if path is not None:
        return path
    logger.info("building the %s ONNX graph of %s into %s", variant, directory, cache)
    path = cache / GRAPHS[variant]
    build_graph(loaded, directory, variant, path, calibration_data)
    manifest = _read_manifest(cache / MANIFEST) or {"graphs": {}}  # another process may add
    _write_manifest(cache / MANIFEST, key, {**manifest["graphs"], variant: _manifest_entry(path)})
    return path


class OrtTagger(nn.Module):
    """Stands in for the HF tagger inside :class:`JointModel`: the same call, run by an
    onnxruntime session; returns the two fields :func:`marsad.inference.extract` reads."""

    def __init__(self, session: Any, config: Any, path: Path):
        super().__init__()
        self.session = session
        self.config = config
        self.path = path

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        output_hidden_states: bool = True,
        **_: Any,
    ) -> SimpleNamespace:
        logits, hidden = self.session.run(
            None,
            {
                "input_ids": input_ids.detach().cpu().numpy(),
                "attention_mask": attention_mask.detach().cpu().numpy(),
            },
        )
        return SimpleNamespace(
            logits=torch.from_numpy(logits), hidden_states=(torch.from_numpy(hidden),)
        )


def open_session(path: Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session over ``path`` (a graph that does not load names the file)."""
    ort = require_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise CheckpointError(
            f"{path}: not a loadable ONNX graph ({type(exc).__name__}: {exc}); delete it or rerun "
            "marsad export-onnx"
        ) from exc


def onnx_model(
    loaded: Loaded,
    directory: Path,
    quantize: bool | str = False,
    verify_hashes: bool = True,
    calibration_data: Path | str | None = None,
) -> Loaded:
    """``loaded`` with its tagger replaced by an onnxruntime session over the matching graph."""
    require_onnxruntime()
    check_supported(loaded, Path(directory))
    variant = variant_of(quantize)
    path = resolve_graph(loaded, Path(directory), variant, verify_hashes, calibration_data)
    session = open_session(path)
    model = loaded.model
    tagger = OrtTagger(session, model.tagger.config, path)
    joint = JointModel(tagger, model.relation_head, model.lexical_prior, model.relation_prior)
    return replace(loaded, model=joint.eval())
