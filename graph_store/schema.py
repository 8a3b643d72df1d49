"""Domain names, defined once: node types, edge types (with their reverses) and edge attributes.

Every package imports these names from here; no other module spells a node or edge type
as a string literal.
"""

from __future__ import annotations

from typing import Final

NodeType = str
EdgeType = tuple[str, str, str]

USER: Final[NodeType] = "user"
CONTENT: Final[NodeType] = "content"
CREATOR: Final[NodeType] = "creator"
TAG: Final[NodeType] = "tag"
NODE_TYPES: Final[tuple[NodeType, ...]] = (USER, CONTENT, CREATOR, TAG)

WATCHED: Final[EdgeType] = (USER, "watched", CONTENT)
LIKED: Final[EdgeType] = (USER, "liked", CONTENT)
SHARED: Final[EdgeType] = (USER, "shared", CONTENT)
CREATED_BY: Final[EdgeType] = (CONTENT, "created_by", CREATOR)
HAS_TAG: Final[EdgeType] = (CONTENT, "has_tag", TAG)
SIMILAR_TO: Final[EdgeType] = (CONTENT, "similar_to", CONTENT)

#: Edge types as facts are recorded (the forward direction).
EDGE_TYPES: Final[tuple[EdgeType, ...]] = (WATCHED, LIKED, SHARED, CREATED_BY, HAS_TAG, SIMILAR_TO)

#: Interaction edge types: the ones user events create.
INTERACTIONS: Final[tuple[EdgeType, ...]] = (WATCHED, LIKED, SHARED)

#: The one float attribute an edge type carries, if any.
EDGE_ATTR: Final[dict[EdgeType, str]] = {WATCHED: "completion_pct", SIMILAR_TO: "cosine_sim"}


def reverse(edge_type: EdgeType) -> EdgeType:
    """The reverse relation of ``edge_type``: ``(a, r, b)`` -> ``(b, rev_r, a)`` and back.

    ``similar_to`` is symmetric in meaning but stored in both directions like any other
    relation, so its reverse is ``rev_similar_to``.
    """
    src, rel, dst = edge_type
    if rel.startswith("rev_"):
        return (dst, rel[4:], src)
    return (dst, f"rev_{rel}", src)


#: Every relation the model passes messages along: each forward type and its reverse, so
#: that every node type receives messages (HeteroConv drops node types with no incoming
#: relation).
MESSAGE_EDGE_TYPES: Final[tuple[EdgeType, ...]] = EDGE_TYPES + tuple(reverse(e) for e in EDGE_TYPES)


def check_node_type(node_type: str) -> NodeType:
    """Return ``node_type`` if it is known, else raise a ValueError naming it."""
    if node_type not in NODE_TYPES:
        raise ValueError(f"unknown node type {node_type!r}; expected one of {', '.join(NODE_TYPES)}")
    return node_type


def check_edge_type(edge_type: tuple[str, str, str]) -> EdgeType:
    """Return ``edge_type`` as a tuple if it is a known forward relation, else raise."""
    edge_type = tuple(edge_type)  # type: ignore[assignment]
    if edge_type not in EDGE_TYPES:
        known = ", ".join("-".join(e) for e in EDGE_TYPES)
        raise ValueError(f"unknown edge type {edge_type!r}; expected one of {known}")
    return edge_type
