"""The bundled datasets as columnar numpy records, and their replay as project events.

Two datasets ship in the repository's ``data/`` folder (see each folder's README for the
licence and the mapping to our schema):

- ``movielens``: ml-latest-small. Every rating is a ``watch`` with unknown completion,
  a rating >= 4 is also a ``like``; a free-text tag application is a *proxy* ``share``
  (there is no real share signal). Genres become the content's tags.
- ``kuairand``: the KuaiRand-1K random-exposure log. A row with ``play_time_ms > 0`` is a
  ``watch`` with ``completion_pct = min(play / duration, 1) * 100``; ``is_like`` and
  ``is_forward`` give ``like`` and ``share``. The exposure table keeps every row with its
  engagement labels (``is_click``, ``long_view``) for evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from graph_store.events import EventKind
from graph_store.ingest import KIND_CODES

DatasetName = Literal["movielens", "kuairand"]

#: The int8 interaction codes of graph_store.ingest (one source of truth for both).
WATCH, LIKE, SHARE = KIND_CODES[EventKind.WATCH], KIND_CODES[EventKind.LIKE], KIND_CODES[EventKind.SHARE]
#: Interaction kind code -> event ``type`` string.
KIND_NAMES: tuple[str, ...] = tuple(k.value for k, _ in sorted(KIND_CODES.items(), key=lambda kv: kv[1]))

LIKE_MIN_RATING = 4.0


def default_data_dir() -> Path:
    """The repository's ``data/`` folder, located relative to this package."""
    return Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class Interactions:
    """User -> content interactions sorted by ``(ts, kind)``; all arrays have length n."""

    user: np.ndarray  # str ids [n]
    content: np.ndarray  # str ids [n]
    ts: np.ndarray  # int64 epoch ms [n]
    kind: np.ndarray  # int8 0 watch, 1 like, 2 share [n]
    completion_pct: np.ndarray  # float32 0-100, NaN unknown (always NaN off watches) [n]

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, mask_or_idx: np.ndarray) -> Interactions:
        """A subset (keeps order when given a mask or a sorted index)."""
        return Interactions(
            self.user[mask_or_idx],
            self.content[mask_or_idx],
            self.ts[mask_or_idx],
            self.kind[mask_or_idx],
            self.completion_pct[mask_or_idx],
        )

    def concat(self, other: Interactions) -> Interactions:
        """Both sets, re-sorted by ``(ts, kind)``."""
        return _sorted_interactions(*(np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                                      for f in fields(self)))


@dataclass(frozen=True)
class Catalog:
    """One row per content item; list columns have Python values, None for unknown."""

    content: np.ndarray  # str ids [m]
    creator: list[str | None]
    tags: list[list[str]]
    duration_s: np.ndarray  # float32, NaN unknown [m]
    genre: list[str | None]
    title: list[str | None]

    def __len__(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Exposures:
    """Every shown item with its engagement labels (KuaiRand only), sorted by ts."""

    user: np.ndarray  # str ids [n]
    content: np.ndarray  # str ids [n]
    ts: np.ndarray  # int64 ms [n]
    is_click: np.ndarray  # int8 [n]
    long_view: np.ndarray  # int8 [n]
    play_time_ms: np.ndarray  # int64 [n]
    duration_ms: np.ndarray  # int64 [n]

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True)
class Dataset:
    """A dataset in columnar form; ``user_features`` columns align with ``user_ids``."""

    name: str
    interactions: Interactions
    catalog: Catalog
    user_ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    user_features: dict[str, np.ndarray] = field(default_factory=dict)
    exposures: Exposures | None = None

    @property
    def start_ms(self) -> int:
        """The first interaction time (catalog upserts are stamped with it)."""
        return int(self.interactions.ts[0]) if len(self.interactions) else 0


def load_dataset(name: DatasetName, data_dir: Path | None = None) -> Dataset:
    """Load a bundled dataset by name from ``data_dir`` (default: the repository's data/)."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if name == "movielens":
        return _load_movielens(data_dir / "movielens-latest-small")
    if name == "kuairand":
        return _load_kuairand(data_dir / "kuairand")
    raise ValueError(f"unknown dataset {name!r}; expected 'movielens' or 'kuairand'")


def _sorted_interactions(
    user: np.ndarray, content: np.ndarray, ts: np.ndarray, kind: np.ndarray, completion: np.ndarray
) -> Interactions:
    order = np.lexsort((kind, ts))  # time order; watch before like before share at a tie
    return Interactions(
        user.astype(object)[order],
        content.astype(object)[order],
        ts.astype(np.int64)[order],
        kind.astype(np.int8)[order],
        completion.astype(np.float32)[order],
    )


def _str_ids(values: pd.Series) -> np.ndarray:
    return values.astype(np.int64).astype(str).to_numpy(dtype=object)


def _load_movielens(folder: Path) -> Dataset:
    ratings = pd.read_csv(folder / "ratings.csv.gz")
    tags = pd.read_csv(folder / "tags.csv.gz")
    movies = pd.read_csv(folder / "movies.csv.gz")

    r_user, r_item = _str_ids(ratings.userId), _str_ids(ratings.movieId)
    r_ts = ratings.timestamp.to_numpy(np.int64) * 1000
    liked = ratings.rating.to_numpy() >= LIKE_MIN_RATING
    t_user, t_item = _str_ids(tags.userId), _str_ids(tags.movieId)
    t_ts = tags.timestamp.to_numpy(np.int64) * 1000
    n_r, n_l, n_t = len(ratings), int(liked.sum()), len(tags)
    interactions = _sorted_interactions(
        np.concatenate([r_user, r_user[liked], t_user]),
        np.concatenate([r_item, r_item[liked], t_item]),
        np.concatenate([r_ts, r_ts[liked], t_ts]),
        np.concatenate([np.full(n_r, WATCH), np.full(n_l, LIKE), np.full(n_t, SHARE)]),
        np.full(n_r + n_l + n_t, np.nan),
    )

    genres = [
        [g for g in str(s).split("|") if g and g != "(no genres listed)"] for s in movies.genres
    ]
    catalog = Catalog(
        content=_str_ids(movies.movieId),
        creator=[None] * len(movies),
        tags=genres,
        duration_s=np.full(len(movies), np.nan, dtype=np.float32),
        genre=[None] * len(movies),  # every genre is already a tag; ingest would repeat one
        title=[str(t) for t in movies.title],
    )
    return Dataset("movielens", interactions, catalog)


#: Numeric user columns taken from KuaiRand's user table (the ``*_range`` columns repeat
#: the raw counts in buckets and are left out).
_KUAIRAND_USER_COLUMNS = (
    "is_lowactive_period",
    "is_live_streamer",
    "is_video_author",
    "follow_user_num",
    "fans_user_num",
    "friend_user_num",
    "register_days",
    *(f"onehot_feat{i}" for i in range(18)),
)
_KUAIRAND_ACTIVITY = (
    "UNKNOWN",
    "single_low_active",
    "low_active",
    "day_new",
    "2_14_day_new",
    "30day_retention",
    "middle_active",
    "high_active",
    "full_active",
)


def _load_kuairand(folder: Path) -> Dataset:
    log = pd.read_csv(folder / "log_random_4_22_to_5_08_1k.csv.gz")
    videos = pd.read_csv(folder / "video_features_basic_pure.csv.gz")
    users = pd.read_csv(folder / "user_features_pure.csv.gz")

    user, item = _str_ids(log.user_id), _str_ids(log.video_id)
    ts = log.time_ms.to_numpy(np.int64)
    play = log.play_time_ms.to_numpy(np.float64)
    dur = log.duration_ms.to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        completion = np.where(dur > 0, np.minimum(play / dur, 1.0) * 100.0, np.nan)
    watch = play > 0
    like = log.is_like.to_numpy() == 1
    share = log.is_forward.to_numpy() == 1
    parts = [(watch, WATCH, completion), (like, LIKE, None), (share, SHARE, None)]
    interactions = _sorted_interactions(
        np.concatenate([user[m] for m, _, _ in parts]),
        np.concatenate([item[m] for m, _, _ in parts]),
        np.concatenate([ts[m] for m, _, _ in parts]),
        np.concatenate([np.full(int(m.sum()), k) for m, k, _ in parts]),
        np.concatenate([c[m] if c is not None else np.full(int(m.sum()), np.nan) for m, _, c in parts]),
    )

    tag_lists = [[t for t in str(s).split(",") if t] if isinstance(s, str) else [] for s in videos.tag]
    catalog = Catalog(
        content=_str_ids(videos.video_id),
        creator=[str(a) for a in videos.author_id],
        tags=tag_lists,
        duration_s=(videos.video_duration.to_numpy(np.float64) / 1000.0).astype(np.float32),
        genre=[None] * len(videos),
        title=[None] * len(videos),
    )

    users = users[users.user_id.isin(log.user_id.unique())].sort_values("user_id")
    feats = {c: users[c].to_numpy(np.float32) for c in _KUAIRAND_USER_COLUMNS}
    activity = {v: i for i, v in enumerate(_KUAIRAND_ACTIVITY)}
    feats["active_degree"] = np.array(
        [activity.get(v, np.nan) for v in users.user_active_degree], dtype=np.float32
    )
    feats["is_live_streamer"] = np.where(feats["is_live_streamer"] < 0, 0, feats["is_live_streamer"])

    order = np.argsort(ts, kind="stable")
    exposures = Exposures(
        user=user[order],
        content=item[order],
        ts=ts[order],
        is_click=log.is_click.to_numpy(np.int8)[order],
        long_view=log.long_view.to_numpy(np.int8)[order],
        play_time_ms=log.play_time_ms.to_numpy(np.int64)[order],
        duration_ms=log.duration_ms.to_numpy(np.int64)[order],
    )
    return Dataset(
        "kuairand", interactions, catalog, _str_ids(users.user_id), feats, exposures
    )


def catalog_events(dataset: Dataset, timestamp: int | None = None) -> Iterator[dict[str, Any]]:
    """Catalog upserts in the project's event format, stamped ``timestamp`` (default start)."""
    stamp = dataset.start_ms if timestamp is None else int(timestamp)
    cat = dataset.catalog
    for i in range(len(cat)):
        event: dict[str, Any] = {"type": "catalog", "content_id": str(cat.content[i]), "timestamp": stamp}
        if cat.creator[i] is not None:
            event["creator_id"] = cat.creator[i]
        if cat.tags[i]:
            event["tags"] = list(cat.tags[i])
        if not np.isnan(cat.duration_s[i]):
            event["duration_s"] = float(cat.duration_s[i])
        if cat.genre[i] is not None:
            event["genre"] = cat.genre[i]
        if cat.title[i] is not None:
            event["title"] = cat.title[i]
        yield event


def interaction_events(interactions: Interactions) -> Iterator[dict[str, Any]]:
    """Interactions as watch/like/share events, in their stored (time) order."""
    for u, c, t, k, p in zip(
        interactions.user,
        interactions.content,
        interactions.ts.tolist(),
        interactions.kind.tolist(),
        interactions.completion_pct.tolist(),
        strict=True,
    ):
        event: dict[str, Any] = {"type": KIND_NAMES[k], "user_id": u, "content_id": c, "timestamp": t}
        if k == WATCH:
            event["completion_pct"] = None if p != p else p  # NaN -> null
        yield event


def iter_events(dataset: Dataset) -> Iterator[dict[str, Any]]:
    """The dataset as a time-ordered event stream: every catalog upsert first, stamped at
    the first interaction time, then every interaction in time order."""
    yield from catalog_events(dataset)
    yield from interaction_events(dataset.interactions)


def write_events(dataset: Dataset, path: Path) -> int:
    """Write ``iter_events(dataset)`` as JSON lines; returns the number of events."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for event in iter_events(dataset):
            f.write(json.dumps(event, separators=(",", ":")) + "\n")
            n += 1
    return n


def load_events_file(path: Path) -> Dataset:
    """A Dataset from a JSON-lines events file (the ``iter_events`` format).

    Every line is decoded and validated by ``graph_store.events``; a bad line raises
    naming its line number. Catalog rows keep their latest values per content id.
    """
    from graph_store.events import CatalogUpsert, InvalidEvent, decode

    users: list[str] = []
    contents: list[str] = []
    ts: list[int] = []
    kinds: list[int] = []
    pct: list[float] = []
    catalog: dict[str, CatalogUpsert] = {}
    with Path(path).open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                event = decode(line)
            except InvalidEvent as exc:
                raise ValueError(f"{path}:{line_no}: {exc.reason}") from exc
            if isinstance(event, CatalogUpsert):
                catalog[event.content_id] = event
                continue
            users.append(event.user_id)
            contents.append(event.content_id)
            ts.append(event.timestamp)
            kinds.append(KIND_CODES[event.kind])
            pct.append(np.nan if event.completion_pct is None else event.completion_pct)
    interactions = _sorted_interactions(
        np.array(users, dtype=object), np.array(contents, dtype=object), np.array(ts, dtype=np.int64),
        np.array(kinds, dtype=np.int8), np.array(pct, dtype=np.float32),
    )
    rows = list(catalog.values())
    cat = Catalog(
        content=np.array([r.content_id for r in rows], dtype=object),
        creator=[r.creator_id for r in rows],
        tags=[list(r.tags) for r in rows],
        duration_s=np.array([np.nan if r.duration_s is None else r.duration_s for r in rows], dtype=np.float32),
        genre=[r.genre for r in rows],
        title=[r.title for r in rows],
    )
    return Dataset(Path(path).stem, interactions, cat)


def build_store(dataset: Dataset, *, until: int | None = None, catalog_ms: int | None = None) -> Any:
    """A GraphStore holding the catalog and every interaction strictly before ``until``,
    built through ``graph_store.ingest`` (the path the online worker uses), plus the
    dataset's user features (which no event carries).

    Catalog edges are stamped ``catalog_ms`` (default: one second before the first
    interaction), so they are visible to every interaction.
    """
    from graph_store.events import CatalogUpsert
    from graph_store.ingest import add_catalog, add_interactions
    from graph_store.schema import USER
    from graph_store.store import GraphStore

    store = GraphStore()
    stamp = dataset.start_ms - 1000 if catalog_ms is None else int(catalog_ms)
    cat = dataset.catalog
    add_catalog(
        store,
        (
            CatalogUpsert(
                content_id=str(cat.content[i]),
                timestamp=stamp,
                creator_id=cat.creator[i],
                tags=tuple(cat.tags[i]),
                duration_s=None if np.isnan(cat.duration_s[i]) else float(cat.duration_s[i]),
                genre=cat.genre[i],
                title=cat.title[i],
            )
            for i in range(len(cat))
        ),
    )
    inter = dataset.interactions
    if until is not None:
        inter = inter.take(inter.ts < until)
    add_interactions(store, inter.user, inter.content, inter.ts, inter.kind, inter.completion_pct)
    if dataset.user_features and len(dataset.user_ids):
        idx = store.index(USER, dataset.user_ids)
        store.set_features(USER, idx, **dataset.user_features)
    return store
