"""The HTTP API against a real aiohttp server on a loopback port."""

from __future__ import annotations

import asyncio

import numpy as np
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from serving.http import build_app
from serving.recommender import Recommender
from serving.vectors import VectorRecord


def _recommender() -> Recommender:
    rec = Recommender(2)
    vec = lambda *v: np.array(v, np.float32)  # noqa: E731
    rec.apply([
        VectorRecord("content", "a", vec(1, 0), "v1", 1, 1),
        VectorRecord("content", "b", vec(0, 1), "v1", 1, 1),
        VectorRecord("user", "u1", vec(1, 0.5), "v1", 5, 1, ("b",)),
    ])
    rec.set_trending([("b", 2.0)])
    return rec


async def _exchange(path: str, ready: bool = True) -> tuple[int, dict | str]:
    async with TestServer(build_app(_recommender(), ready=lambda: ready)) as server, ClientSession() as session:
        async with session.get(server.make_url(path)) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


def get(path: str, ready: bool = True) -> tuple[int, dict | str]:
    return asyncio.run(_exchange(path, ready))


def test_recommendations_for_a_known_user_skip_seen_items() -> None:
    status, body = get("/recommendations/u1?k=5")
    assert status == 200
    assert body["source"] == "personal" and body["model_version"] == "v1" and body["event_ms"] == 5
    assert [item["content_id"] for item in body["items"]] == ["a"]


def test_unknown_user_gets_trending() -> None:
    status, body = get("/recommendations/stranger")
    assert status == 200 and body["source"] == "trending"
    assert body["items"] == [{"content_id": "b", "score": 2.0}]


def test_bad_requests_get_a_4xx_that_says_what_is_wrong() -> None:
    status, body = get("/recommendations/u1?k=abc")
    assert status == 400 and "k must be an integer" in body["error"] and "'abc'" in body["error"]
    status, body = get("/recommendations/u1?k=0")
    assert status == 400 and "between 1 and 1000" in body["error"]
    status, body = get("/recommendations/u1?n=3")
    assert status == 400 and "unknown query parameter(s): n" in body["error"]
    status, body = get("/nowhere")
    assert status == 404 and "/nowhere" in body["error"]


def test_metrics_and_health() -> None:
    status, body = get("/healthz")
    assert status == 200 and body == {"status": "ok", "content_vectors": 2, "user_vectors": 1}
    assert get("/readyz") == (200, {"status": "ready"})
    assert get("/readyz", ready=False) == (503, {"status": "catching up"})
    status, text = get("/metrics")
    assert status == 200 and "freshrec_index_vectors" in text


def test_user_endpoint_shows_seen_items_and_404s_unknown_users() -> None:
    status, body = get("/users/u1")
    assert status == 200 and body["seen"] == ["b"] and body["event_ms"] == 5
    status, body = get("/users/stranger")
    assert status == 404 and "'stranger'" in body["error"]
