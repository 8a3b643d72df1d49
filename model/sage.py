"""The heterogeneous GraphSAGE model: encoded node inputs -> user and content vectors.

Design:
- Inductive first. A node's input is its encoded features and degrees (model/encoders.py),
  a learned vector per node *type*, and for tags a hashed-name embedding, so a node that
  arrived a second ago gets a vector from its features and neighbours at once.
- Optionally hybrid: users and content seen in training may add a per-id embedding
  (``id_sizes``, rows from :class:`model.vocab.IdVocabulary`, keyed by external id). Row 0
  is the learned "unknown id" vector every new node gets; training replaces known ids by
  it at random so the unknown row means "no memory of this node", not noise.
- Each layer is a :class:`~torch_geometric.nn.HeteroConv` holding one SAGEConv per
  relation of ``schema.MESSAGE_EDGE_TYPES`` (forward and reverse, so every node type
  receives messages), summed per target type, plus a per-type root transform applied to
  every node. The root transform lives outside HeteroConv because HeteroConv leaves out
  node types without incoming edges in a sampled subgraph (e.g. a lone content seed).
- Edge attributes (completion_pct on watched, cosine_sim on similar_to) gate messages.
  SAGEConv has no edge_attr, so :class:`GatedSAGEConv` multiplies each neighbour's
  message by ``2 * sigmoid(a * attr + b)`` before the mean, with a learned value for an
  unknown attribute. A half-watched clip then counts for less than a finished one and
  the model learns how much less; where the attribute is never known (MovieLens) the
  gate is one learned constant. The gate starts at 1 (plain mean).
- Scoring is a dot product. The last two output coordinates carry biases:
  user ``[h_u, b_u, 1]`` and content ``[h_c, 1, b_c]`` so that
  ``u . c = h_u . h_c + b_u + b_c`` — popularity and user activity fit in an inner
  product index unchanged.
- With fixed input factors (``factor_skip``, model/factors.py) the vectors get
  ``id_dim`` more slots after those: content its factor, a user ``s * mean`` of the
  factors of the content it interacted with in the sample, adding ``s * f_u . f_c``
  (an item-item fold-in of the user's recent items) to the score. With ``fold_shrink``
  the mean over n items divides by ``n + softplus(p)`` (p learned): a user's first item
  moves its vector a little, a long history fully.
- With ``user_prior`` = c > 0 a user with n interaction edges in the sample gets
  ``prior + n / (n + c) * (own - prior)``: a learned prior vector for the learned and bias
  slots, zero for the factor slots. A user with no interaction is the prior (what to show
  someone unknown), a user with one event is still mostly the prior, and the sample's
  fanout caps n, so a long history keeps ``fanout / (fanout + c)`` of its own vector (the
  layers learn that scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, MessagePassing, SAGEConv

from graph_store.schema import EDGE_ATTR, MESSAGE_EDGE_TYPES, NODE_TYPES, CONTENT, USER, EdgeType, NodeType, reverse

#: Relations whose edge attribute gates messages (each attributed type and its reverse).
GATED_EDGE_TYPES: tuple[EdgeType, ...] = tuple(
    e for e in MESSAGE_EDGE_TYPES if e in EDGE_ATTR or reverse(e) in EDGE_ATTR
)


def edge_key(edge_type: EdgeType) -> str:
    """A module-dict key for a relation (PyG's own ``src__rel__dst`` convention)."""
    return "__".join(edge_type)


class GatedSAGEConv(MessagePassing):
    """SAGEConv (mean aggregation, no root term) whose messages are scaled per edge.

    ``out_i = W · mean_j(w_ij · x_j)``; the root term lives in :class:`HeteroSAGE`.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(aggr="mean")
        self.lin_l = nn.Linear(in_channels, out_channels)

    def forward(
        self, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor, edge_weight: Tensor | None = None
    ) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        out = self.propagate(edge_index, x=x, edge_weight=edge_weight, size=(x[0].shape[0], x[1].shape[0]))
        return self.lin_l(out)

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else x_j * edge_weight.unsqueeze(-1)


class EdgeGate(nn.Module):
    """``attr [E] (NaN unknown) -> weight [E]`` in (0, 2); 1 everywhere at initialisation."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale  # attr / scale is roughly in [0, 1]
        self.slope = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(()))
        self.unknown = nn.Parameter(torch.zeros(()))

    def forward(self, attr: Tensor) -> Tensor:
        known = torch.isfinite(attr)
        logit = self.slope * (torch.nan_to_num(attr) / self.scale - 0.5) + self.bias
        return 2 * torch.sigmoid(torch.where(known, logit, self.unknown.expand_as(logit)))


class HeteroSAGE(nn.Module):
    """Two-layer (by default) heterogeneous GraphSAGE over all message relations.

    Args:
        in_dims: encoded input width per node type (0 allowed).
        hash_buckets: hashed-name embedding size per node type (e.g. tags).
        hidden: hidden width. dim: output vector width (including the 2 bias slots).
        id_sizes: per-id embedding rows per node type (unknown row included); none by default.
        id_dim: width of the per-id embeddings (projected to ``hidden``).
    """

    def __init__(
        self,
        in_dims: Mapping[NodeType, int],
        *,
        hash_buckets: Mapping[NodeType, int] | None = None,
        hidden: int = 64,
        dim: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        id_sizes: Mapping[NodeType, int] | None = None,
        id_dim: int = 32,
        factor_skip: bool = False,
        fold_shrink: bool = False,
        user_prior: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_dims = {t: int(in_dims.get(t, 0)) for t in NODE_TYPES}
        self.hidden, self.num_layers, self.dropout = hidden, num_layers, dropout
        # a user with n interactions in the sample: prior + n / (n + user_prior) * (own - prior)
        self.user_prior = float(user_prior)
        self.prior_vec = nn.Parameter(torch.zeros(dim - 1)) if self.user_prior > 0 else None
        self.factor_skip = bool(factor_skip and id_sizes and USER in id_sizes and CONTENT in id_sizes)
        # output width: the learned part (with its 2 bias slots) plus the factor slots
        self.dim = dim + (id_dim if self.factor_skip else 0)
        self.learned_dim = dim
        self.fold_scale = nn.Parameter(torch.full((), 0.1)) if self.factor_skip else None
        # fold-in over n items divides by n + softplus(prior) instead of n: short histories count for less
        self.fold_prior = nn.Parameter(torch.zeros(())) if self.factor_skip and fold_shrink else None
        self.type_emb = nn.ParameterDict({t: nn.Parameter(torch.randn(hidden) * 0.1) for t in NODE_TYPES})
        self.input = nn.ModuleDict({t: nn.Linear(d, hidden) for t, d in self.in_dims.items() if d > 0})
        self.hashed = nn.ModuleDict(
            {t: nn.Embedding(int(b), hidden) for t, b in (hash_buckets or {}).items() if int(b) > 0}
        )
        for emb in self.hashed.values():
            nn.init.normal_(cast(nn.Embedding, emb).weight, std=1.0)
        self.id_dim = id_dim
        self.ids = nn.ModuleDict(
            {t: nn.Embedding(int(n), id_dim) for t, n in (id_sizes or {}).items() if int(n) > 0}
        )
        for emb in self.ids.values():
            nn.init.normal_(cast(nn.Embedding, emb).weight, std=0.1)
        self.id_proj = nn.ModuleDict({t: nn.Linear(id_dim, hidden, bias=False) for t in self.ids})
        self.gates = nn.ModuleDict(
            {edge_key(e): EdgeGate(100.0 if "watched" in e[1] else 1.0) for e in GATED_EDGE_TYPES}
        )
        self.convs = nn.ModuleList()
        self.roots = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(num_layers):
            self.convs.append(
                HeteroConv(
                    {
                        e: GatedSAGEConv(hidden, hidden)
                        if e in GATED_EDGE_TYPES
                        else SAGEConv((hidden, hidden), hidden, root_weight=False)
                        for e in MESSAGE_EDGE_TYPES
                    },
                    aggr="sum",
                )
            )
            self.roots.append(nn.ModuleDict({t: nn.Linear(hidden, hidden) for t in NODE_TYPES}))
            self.norms.append(nn.ModuleDict({t: nn.LayerNorm(hidden) for t in NODE_TYPES}))
        self.head = nn.ModuleDict({t: nn.Linear(hidden, self.learned_dim - 2) for t in NODE_TYPES})
        self.bias_head = nn.ModuleDict({t: nn.Linear(hidden, 1) for t in NODE_TYPES})

    def config(self) -> dict[str, Any]:
        """Constructor arguments as plain data (saved in the checkpoint)."""
        return {
            "in_dims": dict(self.in_dims),
            "hash_buckets": {t: int(cast(nn.Embedding, e).num_embeddings) for t, e in self.hashed.items()},
            "hidden": self.hidden,
            "dim": self.learned_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "id_sizes": {t: int(cast(nn.Embedding, e).num_embeddings) for t, e in self.ids.items()},
            "id_dim": self.id_dim,
            "factor_skip": self.factor_skip,
            "fold_shrink": self.fold_prior is not None,
            "user_prior": self.user_prior,
        }

    def embed_inputs(
        self,
        x_dict: Mapping[NodeType, Tensor],
        bucket_dict: Mapping[NodeType, Tensor],
        id_dict: Mapping[NodeType, Tensor] | None = None,
    ) -> dict[NodeType, Tensor]:
        h: dict[NodeType, Tensor] = {}
        for t, x in x_dict.items():
            out = self.type_emb[t].expand(x.shape[0], -1)
            if t in self.input:
                out = out + self.input[t](x)
            if t in self.hashed and t in bucket_dict:
                out = out + self.hashed[t](bucket_dict[t])
            if id_dict is not None and t in self.ids and t in id_dict:
                out = out + self.id_proj[t](self.ids[t](id_dict[t]))
            h[t] = out
        return h

    def forward(
        self,
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        edge_attr_dict: Mapping[EdgeType, Tensor] | None = None,
        bucket_dict: Mapping[NodeType, Tensor] | None = None,
        id_dict: Mapping[NodeType, Tensor] | None = None,
    ) -> dict[NodeType, Tensor]:
        """Vectors of every node in the (sub)graph.

        Shapes:
            x_dict: ``{type: [n_t, in_dims[type]]}`` (every node type present, n_t may be 0);
            edge_index_dict: ``{relation: [2, E]}`` local ids, row 0 source, row 1 target;
            edge_attr_dict: ``{relation: [E]}`` float, NaN unknown;
            id_dict: ``{type: [n_t]}`` int64 id-embedding rows (0 = unknown id);
            returns ``{type: [n_t, dim]}``.
        """
        h = self.embed_inputs(x_dict, bucket_dict or {}, id_dict)
        edges = {e: ei for e, ei in edge_index_dict.items() if e in MESSAGE_EDGE_TYPES and ei.shape[1] > 0}
        weights = {
            e: self.gates[edge_key(e)](attr)
            for e, attr in (edge_attr_dict or {}).items()
            if e in edges and e in GATED_EDGE_TYPES and attr is not None
        }
        for conv, layer_roots, layer_norms in zip(self.convs, self.roots, self.norms, strict=True):
            msgs = conv(h, edges, edge_weight_dict=weights) if edges else {}
            roots, norms = cast(nn.ModuleDict, layer_roots), cast(nn.ModuleDict, layer_norms)
            nxt: dict[NodeType, Tensor] = {}
            for t, ht in h.items():
                out = roots[t](ht)
                if t in msgs:
                    out = out + msgs[t]
                out = F.gelu(norms[t](out))
                nxt[t] = F.dropout(out, self.dropout, self.training) + ht
            h = nxt
        out = {t: self._output(t, ht) for t, ht in h.items()}
        if self.factor_skip:
            out = self._with_factors(out, edges, id_dict or {})
        if self.prior_vec is not None and USER in out:
            out[USER] = self._shrunk_users(out[USER], edges)
        return out

    def _output(self, node_type: NodeType, h: Tensor) -> Tensor:
        body = self.head[node_type](h)
        bias = self.bias_head[node_type](h)
        one = torch.ones_like(bias)
        tail = (bias, one) if node_type == USER else (one, bias)
        return torch.cat([body, *tail], dim=-1)

    def _shrunk_users(self, users: Tensor, edges: Mapping[EdgeType, Tensor]) -> Tensor:
        """Pull users with few interactions towards a prior: weight ``n / (n + user_prior)``
        on their own vector. The prior is learned for the body and bias slots and zero for
        the factor slots; the constant-1 slot stays."""
        assert self.prior_vec is not None
        n = _interactions_per_user(users, edges)
        w = (n / (n + self.user_prior)).unsqueeze(-1)
        one = self.learned_dim - 1
        body = self.prior_vec + w * (users[:, :one] - self.prior_vec)
        return torch.cat([body, users[:, one : one + 1], w * users[:, one + 1 :]], dim=-1)

    def _with_factors(self, out: dict[NodeType, Tensor], edges: Mapping[EdgeType, Tensor],
                      id_dict: Mapping[NodeType, Tensor]) -> dict[NodeType, Tensor]:
        """Append the factor slots: content ``[.., f_c]``, user ``[.., s * mean f_c over the
        content it interacted with in the sample]``, so the score gains ``s * f_u' . f_c``:
        a parameter-free fold-in of the user's recent items (fresh: the newest edge counts
        at once). Nodes without a factor (unknown row) contribute zeros."""
        k = self.id_dim
        slots = {t: v.new_zeros((v.shape[0], k)) for t, v in out.items()}
        if CONTENT in out and CONTENT in id_dict:
            slots[CONTENT] = self.ids[CONTENT](id_dict[CONTENT])
        if USER in out and CONTENT in out:
            acc = slots[USER]
            for e, ei in _user_inbound(edges):
                acc.index_add_(0, ei[1], slots[CONTENT][ei[0]])
            cnt = _interactions_per_user(out[USER], edges)
            assert self.fold_scale is not None
            den = cnt.clamp(min=1.0) if self.fold_prior is None else cnt + F.softplus(self.fold_prior)
            slots[USER] = self.fold_scale * acc / den.unsqueeze(-1)
        return {t: torch.cat([v, slots[t]], dim=-1) for t, v in out.items()}


def _user_inbound(edges: Mapping[EdgeType, Tensor]) -> list[tuple[EdgeType, Tensor]]:
    """The reverse interaction relations (content -> user) of a sample."""
    return [(e, ei) for e, ei in edges.items() if e[0] == CONTENT and e[2] == USER]


def _interactions_per_user(users: Tensor, edges: Mapping[EdgeType, Tensor]) -> Tensor:
    """Interaction edges into each user row of ``users`` in the sample [n_users]."""
    n = users.new_zeros(users.shape[0])
    for _, ei in _user_inbound(edges):
        n.index_add_(0, ei[1], torch.ones_like(ei[1], dtype=users.dtype))
    return n


def score(user_vectors: Tensor, content_vectors: Tensor) -> Tensor:
    """Row-wise dot products ``[n, dim] x [n, dim] -> [n]``."""
    return (user_vectors * content_vectors).sum(-1)
