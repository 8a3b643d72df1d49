"""Topic names and their creation.

=================  ===========  ====================================================
topic              key          value
=================  ===========  ====================================================
<p>.watch          user id      watch event (JSON)
<p>.like           user id      like event
<p>.share          user id      share event
<p>.catalog        content id   catalog upsert; compacted
<p>.deadletter     source key   the rejected bytes plus reason and source offset
<p>.embeddings     kind:id      refreshed vector; compacted (serving replicas follow it)
=================  ===========  ====================================================
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from graph_store.events import EventKind
from streams.settings import Settings

log = logging.getLogger(__name__)

EVENT_TOPICS = tuple(kind.value for kind in EventKind)
COMPACTED = {"catalog", "embeddings"}


def event_topic(settings: Settings, kind: EventKind) -> str:
    return settings.topic(kind.value)


def all_topics(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic freshrec uses, with its config."""
    out = {}
    for name in (*EVENT_TOPICS, "deadletter", "embeddings"):
        config = {"cleanup.policy": "compact"} if name in COMPACTED else {}
        out[settings.topic(name)] = config
    return out


def admin(bootstrap: str, timeout_s: float = 30.0) -> KafkaAdminClient:
    """An admin client, retried until the cluster answers or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="freshrec-admin")
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise ConnectionError(f"no Kafka broker answers at {bootstrap}") from exc
            time.sleep(0.5)


def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    client = admin(settings.bootstrap)
    try:
        existing = set(client.list_topics())
        wanted = all_topics(settings)
        missing = [
            NewTopic(name, settings.partitions, 1, topic_configs=config)
            for name, config in wanted.items()
            if name not in existing
        ]
        if missing:
            try:
                client.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise RuntimeError(f"creating topics {[t.name for t in missing]} failed: {exc}") from exc
        return [t.name for t in missing]
    finally:
        client.close()
