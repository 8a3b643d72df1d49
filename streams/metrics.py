"""Prometheus metrics of the updater (process-wide default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "freshrec_events_total",
    "Events read from Kafka, by topic and outcome; read = accepted + dead_letter",
    ["topic", "outcome"],
)
EDGES_ADDED = Counter("freshrec_edges_added_total", "New interaction edges folded into the graph", ["relation"])
EDGES_EVICTED = Counter("freshrec_edges_evicted_total", "Interaction edges dropped by retention")
DUPLICATES = Counter(
    "freshrec_duplicate_events_total", "Accepted interactions the graph already held (redelivery, replay)"
)
DEAD_LETTERS = Counter(
    "freshrec_dead_letters_total", "Events sent to the dead-letter topic, by source topic", ["topic"]
)
BATCH_SIZE = Histogram(
    "freshrec_ingest_batch_events", "Events per batch folded into the graph",
    buckets=(1, 10, 100, 1000, 5000, 20000),
)
INGEST_SECONDS = Histogram(
    "freshrec_ingest_batch_seconds", "Time to validate and fold one batch into the graph",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
GRAPH_EDGES = Gauge("freshrec_graph_edges", "Forward edges held by the graph store")
GRAPH_NODES = Gauge("freshrec_graph_nodes", "Nodes held by the graph store, by type", ["node_type"])
REEMBED_SECONDS = Histogram(
    "freshrec_reembed_seconds", "Time of one re-embedding tick",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
VECTORS = Counter("freshrec_vectors_total", "Vectors re-embedded and published, by kind", ["kind"])
PENDING = Gauge("freshrec_reembed_pending", "Dirty nodes waiting for the next tick, by kind", ["kind"])
FRESHNESS = Histogram(
    "freshrec_event_to_vector_seconds",
    "Per user vector: time from the newest event's Kafka append to the vector being computed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
WATERMARK = Gauge(
    "freshrec_event_time_watermark_seconds", "Newest event time folded into the graph (epoch seconds)"
)
