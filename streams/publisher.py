"""Publishing refreshed vectors: into the in-process index and onto the embeddings topic."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from serving.recommender import Recommender
from serving.vectors import TRENDING_KEY, encode, encode_trending
from streams.updater import Refresh

Send = Callable[[bytes, bytes], Awaitable["asyncio.Future[object]"]]


class Publisher:
    """Hands each refresh to the local recommender (if serving in-process) and to Kafka."""

    def __init__(self, recommender: Recommender | None = None, send: Send | None = None) -> None:
        self.recommender = recommender
        self.send = send

    async def publish(self, refresh: Refresh) -> None:
        if self.recommender is not None:
            self.recommender.apply(refresh.records)
            if refresh.trending is not None:
                self.recommender.set_trending(refresh.trending)
        if self.send is not None:
            # send() queues and returns the delivery future; wait for all of them at the end
            deliveries = [await self.send(record.key, encode(record)) for record in refresh.records]
            if refresh.trending:
                deliveries.append(await self.send(TRENDING_KEY, encode_trending(refresh.trending)))
            await asyncio.gather(*deliveries)
