"""graph_store: the in-memory temporal heterogeneous graph at the bottom of freshrec."""

from graph_store.sampler import Subgraph, sample
from graph_store.store import GraphStore

__all__ = ["GraphStore", "Subgraph", "sample"]
