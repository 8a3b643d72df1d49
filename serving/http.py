"""The HTTP API (aiohttp): recommendations, health and Prometheus metrics.

aiohttp is already required by faust-streaming, runs on the same event loop as the
worker in the single-process mode, and answers a lookup in well under a millisecond.

Routes:
    GET /recommendations/{user_id}?k=10   top-k content ids with scores
    GET /users/{user_id}                  what serving holds for a user: vector version, seen items
    GET /healthz                          liveness and index sizes
    GET /readyz                           200 once the index has caught up (a replica: with the
                                          embeddings topic as it stood at start), else 503
    GET /metrics                          Prometheus exposition
Errors are JSON ``{"error": "..."}`` with a 4xx status that says what was wrong.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from serving import metrics
from serving.recommender import Recommender

MAX_K = 1000
DEFAULT_K = 10
RECOMMENDER: web.AppKey[Recommender] = web.AppKey("recommender", Recommender)
READY: web.AppKey[Callable[[], bool]] = web.AppKey("ready")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    start = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = _error(exc.status, exc.reason if exc.status != 404 else f"no route for {request.path}")
    metrics.LATENCY.labels(route).observe(time.perf_counter() - start)
    metrics.REQUESTS.labels(route, str(response.status)).inc()
    return response


def parse_k(raw: str | None) -> int:
    """``k`` from the query string; raises HTTPBadRequest saying what is wrong."""
    if raw is None:
        return DEFAULT_K
    try:
        k = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"k must be an integer between 1 and {MAX_K}, got {raw!r}") from None
    if not 1 <= k <= MAX_K:
        raise web.HTTPBadRequest(reason=f"k must be between 1 and {MAX_K}, got {k}")
    return k


async def recommendations(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"].strip()
    if not user_id or len(user_id) > 256:
        return _error(400, "user_id must be 1-256 characters")
    unknown = set(request.query) - {"k"}
    if unknown:
        return _error(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}; only k is accepted")
    k = parse_k(request.query.get("k"))  # a bad k raises HTTPBadRequest: _observe answers 400 with its reason
    result = request.app[RECOMMENDER].recommend(user_id, k)
    metrics.RECOMMENDATIONS.labels(result.source).inc()
    return web.json_response(
        {
            "user_id": result.user_id,
            "source": result.source,
            "model_version": result.model_version,
            "event_ms": result.event_ms,
            "items": [{"content_id": cid, "score": round(score, 6)} for cid, score in result.items],
        }
    )


async def user(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"]
    state = request.app[RECOMMENDER].user(user_id)
    if state is None:
        return _error(404, f"no vector for user {user_id!r} yet")
    return web.json_response({
        "user_id": user_id,
        "model_version": state.model_version,
        "event_ms": state.event_ms,
        "produced_ms": state.produced_ms,
        "seen": sorted(state.seen),
    })


async def healthz(request: web.Request) -> web.Response:
    rec = request.app[RECOMMENDER]
    return web.json_response({"status": "ok", "content_vectors": rec.num_content(), "user_vectors": rec.num_users()})


async def readyz(request: web.Request) -> web.Response:
    if request.app[READY]():
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "catching up"}, status=503)


async def alive(_: web.Request) -> web.Response:
    """/healthz of an app without a recommender: the process is up."""
    return web.json_response({"status": "ok"})


async def prometheus(_: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(recommender: Recommender | None, ready: Callable[[], bool] = lambda: True) -> web.Application:
    """The aiohttp application; without a recommender only /healthz, /readyz and /metrics
    exist. ``ready`` answers /readyz (a replica passes its follower's caught-up flag)."""
    app = web.Application(middlewares=[_observe])
    app[READY] = ready
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/readyz", readyz)
    if recommender is not None:
        app[RECOMMENDER] = recommender
        app.router.add_get("/recommendations/{user_id}", recommendations)
        app.router.add_get("/users/{user_id}", user)
        app.router.add_get("/healthz", healthz)
    else:
        app.router.add_get("/healthz", alive)
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port`` inside the running event loop; returns the runner to clean up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return runner
