"""Checkpoints: weights, schema, fitted encoders, config and a version, as plain data.

A checkpoint holds only tensors, dicts, lists, str, int, float and bool, so
``torch.load(path, weights_only=True)`` reads it without executing pickled code. Edge
types are stored as ``[src, rel, dst]`` lists. A checkpoint written for another schema
(node or message relation types) is refused: its weights would be silently misrouted.
A model with per-id embeddings also stores its id vocabulary (lists of external ids) and
keeps those tables in float16 (half the bytes; they are re-read as float32).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from graph_store.schema import MESSAGE_EDGE_TYPES, NODE_TYPES
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE
from model.vocab import IdVocabulary

FORMAT = "freshrec-hetero-sage"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used with this code (format or schema mismatch)."""


def schema_state() -> dict[str, Any]:
    """The code's schema as plain lists."""
    return {"node_types": list(NODE_TYPES), "edge_types": [list(e) for e in MESSAGE_EDGE_TYPES]}


@dataclass
class Checkpoint:
    """A trained model with everything needed to run it on a GraphStore."""

    model: HeteroSAGE
    encoders: FeatureEncoders
    sampling: dict[str, Any] = field(default_factory=lambda: {"fanouts": [10, 10], "strategy": "recent"})
    meta: dict[str, Any] = field(default_factory=dict)  # dataset, training report, ...
    version: str = ""
    vocab: IdVocabulary | None = None  # required when the model has per-id embeddings

    def state(self) -> dict[str, Any]:
        if self.model.ids and self.vocab is None:
            raise CheckpointError("the model has per-id embeddings but the checkpoint has no id vocabulary")
        weights = {
            k: v.detach().cpu().clone().to(torch.float16 if _is_id_table(k) else v.dtype)
            for k, v in self.model.state_dict().items()
        }
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version or weights_version(weights),
            "schema": schema_state(),
            "config": self.model.config(),
            "encoders": self.encoders.state(),
            "sampling": dict(self.sampling),
            "meta": dict(self.meta),
            "id_vocab": self.vocab.state() if self.vocab is not None else None,
            "weights": weights,
        }

    def save(self, path: Path) -> Path:
        """Write the checkpoint; sets and returns ``self.version`` in the file."""
        state = self.state()
        self.version = state["version"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        tmp.replace(path)  # readers never see a half-written checkpoint
        return path

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """Read a checkpoint with ``weights_only=True``; raises CheckpointError if it does
        not fit this code."""
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as exc:  # unpickling errors of every kind
            raise CheckpointError(f"{path}: not a loadable weights-only checkpoint: {exc}") from exc
        return cls.from_state(state, source=str(path))

    @classmethod
    def from_state(cls, state: dict[str, Any], *, source: str = "checkpoint") -> Checkpoint:
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{source}: format {state.get('format') if isinstance(state, dict) else None!r} "
                                  f"is not {FORMAT!r}")
        if state.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{source}: format version {state.get('format_version')!r}, this code reads {FORMAT_VERSION}"
            )
        check_schema(state.get("schema"), source)
        config = dict(state["config"])
        model = HeteroSAGE(
            config.pop("in_dims"),
            hash_buckets=config.pop("hash_buckets"),
            **config,
        )
        weights = {k: v.float() if _is_id_table(k) else v for k, v in state["weights"].items()}
        vocab = IdVocabulary.from_state(state["id_vocab"]) if state.get("id_vocab") is not None else None
        if model.ids and (vocab is None or vocab.sizes() != {t: e.num_embeddings for t, e in model.ids.items()}):
            raise CheckpointError(f"{source}: id vocabulary does not match the per-id embedding tables")
        try:
            model.load_state_dict(weights)
        except RuntimeError as exc:
            raise CheckpointError(f"{source}: weights do not fit the model config: {exc}") from exc
        model.eval()
        encoders = FeatureEncoders.from_state(state["encoders"])
        if encoders.widths() != model.in_dims:
            raise CheckpointError(
                f"{source}: encoder widths {encoders.widths()} differ from model inputs {model.in_dims}"
            )
        return cls(model, encoders, dict(state["sampling"]), dict(state.get("meta", {})), str(state["version"]),
                   vocab)


def _is_id_table(key: str) -> bool:
    return key.startswith("ids.")


def check_schema(schema: Any, source: str = "checkpoint") -> None:
    """Raise CheckpointError naming the differences if ``schema`` is not the code's."""
    ours = schema_state()
    if not isinstance(schema, dict):
        raise CheckpointError(f"{source}: no schema recorded")
    problems = []
    for key in ("node_types", "edge_types"):
        theirs = schema.get(key)
        if theirs != ours[key]:
            mine = {tuple(x) if isinstance(x, list) else x for x in ours[key]}
            other = {tuple(x) if isinstance(x, list) else x for x in (theirs or [])}
            problems.append(
                f"{key}: checkpoint has extra {sorted(map(str, other - mine))} and lacks "
                f"{sorted(map(str, mine - other))}"
                if mine != other
                else f"{key}: same names in another order"
            )
    if problems:
        raise CheckpointError(f"{source}: schema does not match this code's graph_store.schema; " + "; ".join(problems))


def weights_version(weights: dict[str, torch.Tensor]) -> str:
    """A content hash of the weights: equal weights give equal versions."""
    digest = hashlib.sha256()
    for key in sorted(weights):
        digest.update(key.encode())
        digest.update(weights[key].numpy().tobytes())
    return f"sage-{digest.hexdigest()[:12]}"
