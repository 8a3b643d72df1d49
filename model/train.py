"""Temporal training of the heterogeneous GraphSAGE model.

No label sees the future: training labels are sorted by time and cut into batches; a
batch is scored on neighbourhoods sampled with ``before`` = its earliest label time, so
neither the labelled edges nor anything later is visible (degrees included). The graph
holds only interactions before ``until`` (the evaluation cut); the last
``val_fraction`` of the training labels (by time) is held out to pick the best epoch.

Objectives:
- ``interactions``: each interaction is a positive against ``negatives`` content items
  drawn uniformly from the catalog, shared by the batch (sampled softmax). A watch
  with known completion weighs ``completion_pct / 100``; likes, shares and watches of
  unknown completion weigh 1.
- ``long_view`` / ``is_click`` (datasets with an exposure table): binary cross-entropy of
  the user-content dot product against the exposure's label.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from graph_store.schema import CONTENT, USER
from model.checkpoint import Checkpoint
from model.datasets import WATCH, Dataset, build_store, load_dataset, load_events_file
from model.embedder import run_on_sample
from model.encoders import DAY_MS, WINDOW_DAYS, FeatureEncoders
from model.factors import Factors, align, fit_factors
from model.history import ExposureHistory
from model.sage import HeteroSAGE, score
from model.vocab import IdVocabulary

Objective = Literal["interactions", "long_view", "is_click"]
#: A user node without edges or features that training puts in place of a label's user
#: (``cold_user_share``): the model learns what to recommend to someone it knows nothing of.
BLANK_USER = "\x00freshrec-blank-user"


@dataclass
class TrainConfig:
    """Hyper-parameters (saved in the checkpoint's meta)."""

    epochs: int = 5
    seed: int = 0
    batch_size: int = 512
    negatives: int = 256  # uniform content shared by a batch
    hidden: int = 64
    dim: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    fanouts: list[int] = field(default_factory=lambda: [10, 10])
    window_days: list[int] = field(default_factory=lambda: list(WINDOW_DAYS))  # recent-count inputs
    age_inputs: bool = True  # hours since a user's / content's first interaction as an input
    strategy: str = "recent"
    lr: float = 3e-3
    weight_decay: float = 1e-5
    feature_dropout: float = 0.2
    objective: Objective = "interactions"
    until: int | None = None
    val_fraction: float = 0.1
    max_minutes: float | None = None
    user_balance: float = 0.75  # interaction labels weigh (user's label count) ** -user_balance
    id_dim: int = 0  # per-id embeddings of users and content seen in training (0: none, fully inductive)
    id_dropout: float = 0.25  # share of known ids replaced by the unknown row in training
    factor_dim: int = 32  # fixed implicit-ALS input factors of users and content (model/factors.py; 0: none)
    factor_share: float = 0.5  # the latest share of training labels, scored with factors fitted before them
    cold_user_share: float = 0.4  # labels whose user is replaced by a user without history (training)
    in_batch_negatives: bool = False  # the batch's other positives are negatives too (mixed negative sampling)
    label_time_users: bool = True  # interactions: a label's user as of the label's own time, not the batch's start
    factor_skip: bool = True  # score also by the fold-in of the user's items' factors (sage.HeteroSAGE)
    fold_shrink: bool = True  # the fold-in divides by (items + a learned prior count) (sage.HeteroSAGE)
    user_prior: float = 10.0  # > 0: users with n interactions weigh their own vector n / (n + this) against a prior
    early_share: float = 0.0  # interactions: labels also scored with their user as of its first few events
    early_max_events: int = 3  # ... as of its first 1..this many events
    early_window_days: float = 1.0  # ... when the label is at most this long after them


@dataclass
class Labels:
    """Training examples sorted by time: global node indices, times, targets, weights."""

    user: np.ndarray  # int64 [n]
    content: np.ndarray  # int64 [n]
    ts: np.ndarray  # int64 [n]
    target: np.ndarray  # float32 [n] (1 for interaction positives)
    weight: np.ndarray  # float32 [n]

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, sl: slice | np.ndarray) -> Labels:
        return Labels(self.user[sl], self.content[sl], self.ts[sl], self.target[sl], self.weight[sl])


def resolve_dataset(dataset: str | Path | Dataset, data_dir: Path | None = None) -> Dataset:
    """A Dataset from a bundled name, an events file path, or a Dataset."""
    if isinstance(dataset, Dataset):
        return dataset
    if str(dataset) in ("movielens", "kuairand"):
        return load_dataset(str(dataset), data_dir)  # type: ignore[arg-type]
    path = Path(dataset)
    if not path.is_file():
        raise ValueError(f"dataset {str(dataset)!r} is neither 'movielens', 'kuairand' nor an events file")
    return load_events_file(path)


def make_labels(dataset: Dataset, store: Any, objective: Objective, until: int | None) -> Labels:
    """The examples of ``objective`` strictly before ``until``, in time order."""
    if objective == "interactions":
        inter = dataset.interactions
        if until is not None:
            inter = inter.take(inter.ts < until)
        pct = inter.completion_pct
        weight = np.where((inter.kind == WATCH) & np.isfinite(pct), np.nan_to_num(pct) / 100.0, 1.0)
        keep = weight > 0
        return Labels(
            store.lookup(USER, inter.user[keep]),
            store.lookup(CONTENT, inter.content[keep]),
            inter.ts[keep],
            np.ones(int(keep.sum()), np.float32),
            weight[keep].astype(np.float32),
        )
    exp = dataset.exposures
    if exp is None:
        raise ValueError(f"objective {objective!r} needs an exposure table; dataset {dataset.name!r} has none")
    keep = np.ones(len(exp), bool) if until is None else exp.ts < until
    users = store.index(USER, exp.user[keep])  # exposed users may have no interaction yet
    contents = store.index(CONTENT, exp.content[keep])
    target = getattr(exp, objective)[keep].astype(np.float32)
    return Labels(users, contents, exp.ts[keep], target, np.ones(len(target), np.float32))


def balance_users(labels: Labels, power: float) -> Labels:
    """Weights times (the user's label count) ** -power, rescaled to mean 1.

    Heavy users dominate interaction labels, while most users a recommender meets are new
    and behave differently (more popularity-driven); power 1 weighs every user equally.
    """
    per_user = np.bincount(labels.user).astype(np.float64)
    w = labels.weight * per_user[labels.user] ** -power
    return Labels(labels.user, labels.content, labels.ts, labels.target, (w / w.mean()).astype(np.float32))


def exposure_history(dataset: Dataset, until: int | None) -> ExposureHistory | None:
    """Past engagement rates from the dataset's exposure log before ``until`` (None without one)."""
    exp = dataset.exposures
    if exp is None:
        return None
    keep = np.ones(len(exp), bool) if until is None else exp.ts < until
    creator_of = {str(c): k for c, k in zip(dataset.catalog.content.tolist(), dataset.catalog.creator) if k is not None}
    return ExposureHistory(exp.user[keep], exp.content[keep], exp.ts[keep],
                           {"is_click": exp.is_click[keep], "long_view": exp.long_view[keep]}, creator_of)


class EarlyViews:
    """Each user's distinct event times, to show a label's user as it was after its first
    few events (a newcomer), with the label still in its future."""

    def __init__(self, labels: Labels) -> None:
        pairs = np.unique(np.stack([labels.user, labels.ts], axis=1), axis=0)  # sorted by user, then time
        self.times = pairs[:, 1]
        n_users = int(labels.user.max()) + 1 if len(labels) else 0
        self.start = np.searchsorted(pairs[:, 0], np.arange(n_users + 1))

    def pick(self, labels: Labels, rng: np.random.Generator, share: float, max_events: int,
             window_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``labels`` drawn with probability ``share`` whose user had k (1..max_events)
        events at most ``window_ms`` before the label, and the seed time that shows them."""
        rows = np.flatnonzero(rng.random(len(labels)) < share)
        user = labels.user[rows]
        at = self.start[user] + rng.integers(0, max_events, size=len(rows))
        ok = at < self.start[user + 1]
        rows, at = rows[ok], at[ok]
        t_k = self.times[at]
        ok = (t_k < labels.ts[rows]) & (labels.ts[rows] - t_k <= window_ms)
        return rows[ok], t_k[ok] + 1


def _batches(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def batch_loss(
    model: HeteroSAGE,
    encoders: FeatureEncoders,
    store: Any,
    labels: Labels,
    cfg: TrainConfig,
    rng: np.random.Generator,
    *,
    training: bool,
    vocab: IdVocabulary | None = None,
    factors_from: int | None = None,
    blank_user: int | None = None,
    early: EarlyViews | None = None,
) -> torch.Tensor:
    """The loss of one time-ordered batch, on neighbourhoods sampled before its first label.

    With input factors fitted on interactions before ``factors_from``, a batch before that
    time sees every node's factor as unknown (the factors would encode its labels)."""
    before = int(labels.ts[0])
    id_dropout = cfg.id_dropout if training else 0.0
    if factors_from is not None and before < factors_from:
        id_dropout = 1.0
    n = len(labels)
    weight = torch.from_numpy(labels.weight)
    if cfg.objective == "interactions":
        # one set of uniform negatives shared by the batch: a sampled softmax that costs
        # one neighbourhood per negative instead of one per (label, negative)
        neg = rng.integers(0, store.num_nodes(CONTENT), size=cfg.negatives)
        users = labels.user
        if training and blank_user is not None and cfg.cold_user_share > 0:
            # as if the user had just arrived: most users a recommender meets have no history
            users = np.where(rng.random(n) < cfg.cold_user_share, blank_user, users)

        def softmax_loss(users: np.ndarray, times: np.ndarray | None, content: np.ndarray, at: int,
                         dropout: float) -> torch.Tensor:
            vec = run_on_sample(
                model, encoders, store, {USER: users, CONTENT: np.concatenate([content, neg])},
                fanouts=cfg.fanouts, strategy=cfg.strategy, before=at, rng=rng,
                feature_dropout=cfg.feature_dropout if training else 0.0,
                vocab=vocab, id_dropout=dropout, seed_times={USER: times} if times is not None else None,
            )
            u, c = vec[USER], vec[CONTENT]
            m = len(content)
            negs = (u @ c[m:].T).masked_fill(torch.from_numpy(neg[None, :] == content[:, None]), -1e9)
            parts = [score(u, c[:m])[:, None], negs]
            if cfg.in_batch_negatives:
                # the batch's other positives: negatives drawn by popularity, which uniform
                # ones rarely are (ranking a whole catalog is decided among popular items)
                other = u @ c[:m].T
                parts.append(other.masked_fill(torch.from_numpy(content[None, :] == content[:, None]), -1e9))
            return F.cross_entropy(torch.cat(parts, dim=1), torch.zeros(m, dtype=torch.long), reduction="none")

        ce = softmax_loss(users, labels.ts if cfg.label_time_users else None, labels.content, before, id_dropout)
        total, norm = (ce * weight).sum(), weight.sum()
        if training and early is not None and cfg.early_share > 0:
            # the same labels seen from their user's first few events: what a newcomer does next
            rows, times = early.pick(labels, rng, cfg.early_share, cfg.early_max_events,
                                     int(cfg.early_window_days * DAY_MS))
            if len(rows):
                at = int(times.min())
                dropout = 1.0 if factors_from is not None and at < factors_from else id_dropout
                w = weight[torch.from_numpy(rows)]
                total = total + (softmax_loss(labels.user[rows], times, labels.content[rows], at, dropout) * w).sum()
                norm = norm + w.sum()
        return total / norm
    vec = run_on_sample(
        model, encoders, store, {USER: labels.user, CONTENT: labels.content},
        fanouts=cfg.fanouts, strategy=cfg.strategy, before=before, rng=rng,
        feature_dropout=cfg.feature_dropout if training else 0.0,
        vocab=vocab, id_dropout=id_dropout,
    )
    logits = score(vec[USER], vec[CONTENT])
    return F.binary_cross_entropy_with_logits(logits, torch.from_numpy(labels.target), weight=weight)


def train(
    dataset: str | Path | Dataset,
    out: Path,
    *,
    epochs: int = 5,
    seed: int = 0,
    max_minutes: float | None = None,
    progress: bool = True,
    data_dir: Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train on ``dataset`` (``"movielens"``, ``"kuairand"``, an events file or a Dataset)
    and write the checkpoint to ``out``. Other keyword arguments set :class:`TrainConfig`
    fields (e.g. ``until=`` cut in epoch ms, ``objective="long_view"``).

    Returns a report: version, checkpoint path and size, losses per epoch, best epoch,
    seconds, label counts.
    """
    cfg = TrainConfig(epochs=epochs, seed=seed, max_minutes=max_minutes)
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise TypeError(f"train() got an unknown option {key!r}")
        setattr(cfg, key, value)
    # Several intra-op threads sum scatters in a varying order, so the same seed gave
    # different weights on MovieLens; one thread is bit-reproducible and costs little here
    # (sampling and encoding in numpy dominate).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(dataset, out, cfg, progress, data_dir)
    finally:
        torch.set_num_threads(threads)


def _train(dataset: str | Path | Dataset, out: Path, cfg: TrainConfig, progress: bool,
           data_dir: Path | None) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    ds = resolve_dataset(dataset, data_dir)
    store = build_store(ds, until=cfg.until)
    encoders = FeatureEncoders.fit(store, source=exposure_history(ds, cfg.until), window_days=cfg.window_days,
                                    age=cfg.age_inputs)
    labels = make_labels(ds, store, cfg.objective, cfg.until)
    blank_user = int(store.index(USER, np.array([BLANK_USER], dtype=object))[0])
    early = EarlyViews(labels) if cfg.objective == "interactions" and cfg.early_share > 0 else None
    if cfg.user_balance and cfg.objective == "interactions":
        labels = balance_users(labels, cfg.user_balance)
    if len(labels) < 2:
        raise ValueError(f"dataset {ds.name!r} has {len(labels)} training labels before {cfg.until}; need 2+")
    n_val = int(len(labels) * cfg.val_fraction)
    fit_labels, val_labels = labels.slice(slice(0, len(labels) - n_val)), labels.slice(slice(len(labels) - n_val, None))

    if cfg.id_dim > 0 and cfg.factor_dim > 0:
        raise ValueError("id_dim and factor_dim are alternatives (both use the id tables); set one")
    factors: Factors | None = None
    factors_from: int | None = None
    vocab: IdVocabulary | None = None
    if cfg.factor_dim > 0:
        factors_from = int(np.quantile(labels.ts, 1.0 - cfg.factor_share))
        factors = _fit_input_factors(ds, min(factors_from, cfg.until or factors_from), cfg)
        vocab = factors.vocabulary()
    elif cfg.id_dim > 0:
        vocab = IdVocabulary.fit(store)
    model = HeteroSAGE(
        encoders.widths(), hash_buckets=encoders.hash_buckets, hidden=cfg.hidden, dim=cfg.dim,
        num_layers=cfg.num_layers, dropout=cfg.dropout,
        id_sizes=vocab.sizes() if vocab is not None else None, id_dim=cfg.factor_dim or cfg.id_dim or 32,
        factor_skip=cfg.factor_dim > 0 and cfg.factor_skip, fold_shrink=cfg.fold_shrink,
        user_prior=cfg.user_prior,
    )
    if factors is not None:
        _set_factor_tables(model, factors)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    fit_batches = _batches(len(fit_labels), cfg.batch_size)
    val_batches = _batches(len(val_labels), cfg.batch_size)
    total_steps = max(1, cfg.epochs * len(fit_batches))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.1)

    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    stopped_early = False
    bar = tqdm(total=total_steps, disable=not progress, desc=f"train {ds.name}", unit="batch")
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for b in rng.permutation(len(fit_batches)):
            loss = batch_loss(model, encoders, store, fit_labels.slice(fit_batches[b]), cfg, rng, training=True,
                              vocab=vocab, factors_from=factors_from, blank_user=blank_user, early=early)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-50:]):.4f}")
            if time.monotonic() > deadline:
                stopped_early = True
                break
        val = evaluate_loss(model, encoders, store, val_labels, val_batches, cfg, vocab, factors_from)
        history.append({"epoch": epoch, "steps": len(losses), "train_loss": float(np.mean(losses)), "val_loss": val})
        key = val if math.isfinite(val) else -float(epoch)  # no validation labels: keep the last
        if best is None or key < best[0]:
            best = (key, epoch, copy.deepcopy(model.state_dict()))
        if stopped_early:
            break
    bar.close()
    assert best is not None
    model.load_state_dict(best[2])
    model.eval()
    if factors is not None:
        # the shipped factors know every training interaction, on the basis the model learned
        final = align(_fit_input_factors(ds, cfg.until, cfg), factors)
        _set_factor_tables(model, final)
        vocab = final.vocabulary()

    seconds = time.monotonic() - started
    report: dict[str, Any] = {
        "dataset": ds.name,
        "objective": cfg.objective,
        "until": cfg.until,
        "labels_fit": len(fit_labels),
        "labels_val": len(val_labels),
        "history": history,
        "best_epoch": best[1],
        "stopped_early": stopped_early,
        "seconds": round(seconds, 1),
    }
    ckpt = Checkpoint(
        model, encoders, {"fanouts": list(cfg.fanouts), "strategy": cfg.strategy},
        meta={"config": asdict(cfg), "report": dict(report)}, vocab=vocab,
    )
    path = ckpt.save(Path(out))
    report.update(version=ckpt.version, path=str(path), bytes=path.stat().st_size)
    return report


@torch.no_grad()
def evaluate_loss(
    model: HeteroSAGE, encoders: FeatureEncoders, store: Any, labels: Labels, batches: list[slice], cfg: TrainConfig,
    vocab: IdVocabulary | None = None, factors_from: int | None = None,
) -> float:
    """Mean loss over held-out batches with a fixed negative sample (comparable across epochs)."""
    if not batches:
        return float("nan")
    model.eval()
    rng = np.random.default_rng(cfg.seed + 1)
    losses = [float(batch_loss(model, encoders, store, labels.slice(b), cfg, rng, training=False, vocab=vocab,
                               factors_from=factors_from))
              for b in batches]
    model.train()
    return float(np.mean(losses))


def _fit_input_factors(ds: Dataset, until: int | None, cfg: TrainConfig) -> Factors:
    """Implicit-ALS factors of the dataset's interactions strictly before ``until``."""
    inter = ds.interactions
    if until is not None:
        inter = inter.take(inter.ts < until)
    return fit_factors(inter.user, inter.content, np.ones(len(inter), np.float32), dim=cfg.factor_dim,
                       seed=cfg.seed)


def _set_factor_tables(model: HeteroSAGE, factors: Factors) -> None:
    """Install ``factors`` as the model's fixed (never trained) id tables."""
    for t, table in factors.tables().items():
        model.ids[t] = torch.nn.Embedding.from_pretrained(torch.from_numpy(table), freeze=True)
