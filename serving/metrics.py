"""Prometheus metrics of the serving side (process-wide default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "freshrec_http_requests_total", "HTTP requests answered, by route and status code", ["route", "status"]
)
LATENCY = Histogram(
    "freshrec_http_request_seconds",
    "Time to answer an HTTP request, by route",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
RECOMMENDATIONS = Counter(
    "freshrec_recommendations_total", "Recommendation lists served, by source", ["source"]
)
INDEX_SIZE = Gauge("freshrec_index_vectors", "Vectors held by serving, by kind", ["kind"])
VECTOR_AGE = Histogram(
    "freshrec_vector_apply_delay_seconds",
    "Wall-clock delay from a vector being computed to it being visible in serving",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
)
EVENT_TO_VISIBLE = Histogram(
    "freshrec_event_to_visible_seconds",
    "Per user vector: time from the newest event's Kafka append to the vector being visible in this process",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
EMBEDDINGS_CONSUMED = Counter(
    "freshrec_embeddings_consumed_total", "Vector records read from the embeddings topic", ["outcome"]
)
