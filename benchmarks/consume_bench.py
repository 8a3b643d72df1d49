"""Consumer throughput on a real Kafka broker: kafka-python vs aiokafka vs Faust.

One run creates a fresh topic, fills it with N small JSON watch events and then
reads the whole topic once per method, each method in its own subprocess and
its own fresh consumer group, starting from the earliest offset:

  kafka-python        KafkaConsumer.poll() loop
  aiokafka            AIOKafkaConsumer.getmany() batches
  faust-default       Faust agent, ``async for event in stream``, default settings
  faust-take          Faust agent, ``stream.take(...)`` batches, default settings
  faust-tuned         Faust agent, ``stream.take(...)`` + tuned settings (FAUST_TUNED)
  faust+aiokafka      Faust app (lifecycle, timers, web) whose hot path is an
                      AIOKafkaConsumer getmany loop in a Faust service task,
                      committing offsets of applied batches (--commit-interval)

Every method decodes each event's JSON (the updater needs the fields), so the
comparison is of delivery cost, not of decoding.  Rates are measured from the
first delivered event to the N-th, i.e. after group join and assignment; the
first delivery (one event or one batch) only starts the clock and is not
counted.  CPU is the consumer process' CPU time (all threads) over that window.

    python benchmarks/consume_bench.py --bootstrap 127.0.0.1:29092
    python benchmarks/consume_bench.py --events 100000 --methods aiokafka,faust-tuned
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Dict, List, Optional

METHODS = [
    "kafka-python",
    "aiokafka",
    "faust-default",
    "faust-take",
    "faust-tuned",
    "faust+aiokafka",
]
BASELINE = "aiokafka"
RESULT_TAG = "BENCH_RESULT "

# Batch size used by the batch readers (poll/getmany max records, take() size).
BATCH = 5_000
# take(): flush a partial batch after this many seconds.
TAKE_WITHIN = 0.2

# Settings of the tuned Faust app (method "faust-tuned").  On Apache Kafka 4.1
# none of them moved throughput measurably: a Faust agent is bound by its
# per-event delivery cost (see docs/consume_benchmark.md).  They are kept as
# the sensible configuration for a batch-applying agent.
FAUST_TUNED: Dict[str, Any] = {
    # Default 4096.  When a stream buffer passes maxsize / 1.25 its partitions
    # leave the fetch set; if that empties the set the fetch loop sleeps one
    # full second before looking again.  Headroom for an agent that awaits
    # I/O while applying a batch.
    "stream_buffer_maxsize": 65_536,
    # Default None: one poll hands over everything the fetcher holds (up to
    # consumer_max_fetch_size per partition, ~9k of these events each).
    "broker_max_poll_records": BATCH,
    # Default 1 MiB per partition: fewer, larger fetch round trips.
    "consumer_max_fetch_size": 4 * 1024 * 1024,
    # Commit offsets every second or every 50k acked events
    # (defaults 2.8 s / 10_000); still only offsets of acked events.
    "broker_commit_every": 50_000,
    "broker_commit_interval": 1.0,
    # Do not wait for the in-flight event on rebalance/stop (apply is idempotent).
    "stream_wait_empty": False,
}

FAUST_VARIANTS: Dict[str, Dict[str, Any]] = {
    "faust-default": {"mode": "each", "serializer": "json", "settings": {}},
    "faust-take": {"mode": "take", "serializer": "json", "settings": {}},
    "faust-tuned": {"mode": "take", "serializer": "raw", "settings": FAUST_TUNED},
    "faust+aiokafka": {"mode": "task", "serializer": "raw", "settings": {}},
}


# --------------------------------------------------------------------------- #
# Events and topic
# --------------------------------------------------------------------------- #


def make_event(i: int, base_ms: int) -> bytes:
    event = {
        "user_id": f"user-{i % 50_000:09d}",
        "content_id": f"content-{(i * 7919) % 20_000:09d}",
        "timestamp": base_ms + i,
        "completion_pct": 57.0,
    }
    return json.dumps(event).encode()


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="consume-bench")
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, n: int, partitions: int) -> Dict[str, float]:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        enable_idempotence=False,
        compression_type=None,
        max_request_size=8 * 1024 * 1024,
    )
    base_ms = int(time.time() * 1000)
    nbytes = 0
    t0 = time.perf_counter()
    for i in range(n):
        value = make_event(i, base_ms)
        nbytes += len(value)
        producer.send(topic, value=value, partition=i % partitions)
    producer.flush()
    elapsed = time.perf_counter() - t0
    producer.close()

    # Confirm the log really holds n events before anyone reads it.
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    stored = sum(probe.end_offsets(tps).values())
    probe.close()
    if stored != n:
        raise SystemExit(f"topic {topic} holds {stored} events, expected {n}")
    return {"seconds": elapsed, "rate": n / elapsed, "avg_bytes": nbytes / n}


# --------------------------------------------------------------------------- #
# Child side: count events, report once N were read
# --------------------------------------------------------------------------- #


class Meter:
    """Counts delivered events; reports on stdout when the target is reached."""

    def __init__(self, target: int, method: str, profile_dir: str = "") -> None:
        self.target = target
        self.profile_dir = profile_dir
        self.profile: Optional[cProfile.Profile] = None
        self.method = method
        self.count = 0
        self.started = time.perf_counter()
        self.first_wall: Optional[float] = None
        self.first_cpu = 0.0
        self.first_batch = 0
        self.deliveries = 0
        self.done = False
        self.extra: Dict[str, Any] = {}

    def add(self, k: int) -> bool:
        """Record k delivered events; True once all target events are in."""
        if self.done:
            return True
        if self.first_wall is None:
            self.first_wall = time.perf_counter()
            self.first_cpu = time.process_time()
            self.first_batch = k
            if self.profile_dir:
                self.profile = cProfile.Profile()
                self.profile.enable()
        self.count += k
        self.deliveries += 1
        if self.count >= self.target:
            self.done = True
            self.report()
        return self.done

    def report(self) -> None:
        end_wall = time.perf_counter()
        end_cpu = time.process_time()
        assert self.first_wall is not None
        seconds = end_wall - self.first_wall
        timed = self.count - self.first_batch
        result = {
            "method": self.method,
            "events": self.count,
            "timed_events": timed,
            "seconds": seconds,
            "rate": timed / seconds if seconds > 0 else float("inf"),
            "cpu_s": end_cpu - self.first_cpu,
            "startup_s": self.first_wall - self.started,
            "avg_delivery": self.count / self.deliveries,
            **self.extra,
        }
        # Straight to file descriptor 1: a Faust worker replaces sys.stdout
        # with a logging proxy, which would bury the line in its log.
        os.write(1, (RESULT_TAG + json.dumps(result) + "\n").encode())
        if self.profile is not None:
            self.profile.disable()
            self.profile.dump_stats(os.path.join(self.profile_dir, f"{self.method}.pstats"))


def decode_all(values: List[bytes]) -> int:
    """The per-event 'apply' work shared by all methods: parse and touch a field."""
    loads = json.loads
    seen = 0
    for raw in values:
        if loads(raw)["user_id"]:
            seen += 1
    return seen


def run_kafka_python(args: argparse.Namespace, meter: Meter) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=BATCH,
    )
    try:
        while not meter.done:
            polled = consumer.poll(timeout_ms=1000)
            if polled:
                meter.add(sum(decode_all([r.value for r in rs]) for rs in polled.values()))
    finally:
        consumer.close(autocommit=False)


async def run_aiokafka(args: argparse.Namespace, meter: Meter) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not meter.done:
            batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            if batches:
                meter.add(sum(decode_all([r.value for r in rs]) for rs in batches.values()))
    finally:
        await consumer.stop()


def build_faust_app(args: argparse.Namespace, meter: Meter, variant: Dict[str, Any]):
    import faust

    settings = dict(variant["settings"])
    if args.faust_settings:
        settings.update(json.loads(args.faust_settings))
    meter.extra["settings"] = settings
    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        # The parent runs each child inside a temporary working directory.
        datadir=os.path.abspath("faust-data"),
        topic_replication_factor=1,
        topic_partitions=args.partitions,
        web_enabled=False,
        **settings,
    )
    mode = variant["mode"]
    if mode == "task":
        add_hot_path_service(app, args, meter)
        return app

    topic = app.topic(args.topic, value_serializer=variant["serializer"])
    raw = variant["serializer"] == "raw"

    if mode == "each":

        @app.agent(topic)
        async def each(stream):
            async for value in stream:
                if raw:
                    value = json.loads(value)
                if value["user_id"]:
                    meter.add(1)

    else:

        @app.agent(topic)
        async def batched(stream):
            async for values in stream.take(BATCH, within=TAKE_WITHIN):
                if raw:
                    meter.add(decode_all(values))
                else:
                    meter.add(sum(1 for v in values if v["user_id"]))

    return app


def add_hot_path_service(app, args: argparse.Namespace, meter: Meter) -> None:
    """Faust keeps the app lifecycle; the hot path is a plain aiokafka consumer.

    At-least-once: a batch is applied first, then exactly its offsets are
    committed (last offset + 1 per partition).  On revocation and on stop, what
    has been applied but not yet committed is committed before letting go.  A
    lock keeps a revocation from landing between "applied" and "committed".
    """
    import mode
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
    from aiokafka.errors import CommitFailedError

    class CommitOnRevoke(ConsumerRebalanceListener):
        def __init__(self, service: "HotPath") -> None:
            self.service = service

        async def on_partitions_revoked(self, revoked) -> None:
            async with self.service.lock:
                await self.service.commit_applied()

        async def on_partitions_assigned(self, assigned) -> None:
            pass

    @app.service
    class HotPath(mode.Service):
        consumer: Optional[AIOKafkaConsumer] = None

        def __post_init__(self) -> None:
            self.pending: Dict[Any, int] = {}
            self.commits = 0
            self.last_commit = time.monotonic()
            self.lock = asyncio.Lock()

        async def on_start(self) -> None:
            self.consumer = AIOKafkaConsumer(
                bootstrap_servers=args.bootstrap,
                group_id=f"{args.group}-hotpath",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            await self.consumer.start()
            self.consumer.subscribe([args.topic], listener=CommitOnRevoke(self))

        async def on_stop(self) -> None:
            if self.consumer is not None:
                async with self.lock:
                    await self.commit_applied()
                await self.consumer.stop()

        async def commit_applied(self) -> None:
            if self.pending and self.consumer is not None:
                offsets, self.pending = self.pending, {}
                try:
                    await self.consumer.commit(offsets)
                    self.commits += 1
                    self.last_commit = time.monotonic()
                except CommitFailedError:
                    # The group moved on; the new owner re-reads these events.
                    self.log.warning("commit failed after rebalance: %r", offsets)

        @mode.Service.task
        async def _hot_path(self) -> None:
            consumer = self.consumer
            assert consumer is not None
            interval = args.commit_interval
            while not self.should_stop:
                batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                applied = 0
                async with self.lock:
                    for tp, records in batches.items():
                        applied += decode_all([r.value for r in records])  # apply
                        self.pending[tp] = records[-1].offset + 1
                    # Commit only offsets of applied batches: every `interval`
                    # seconds, at once when idle, and on revoke/stop.
                    if not batches or time.monotonic() - self.last_commit >= interval:
                        await self.commit_applied()
                if applied:
                    meter.extra["commits"] = self.commits
                    meter.add(applied)


def child_main(args: argparse.Namespace) -> None:
    meter = Meter(args.events, args.child, args.profile)
    if args.child == "kafka-python":
        run_kafka_python(args, meter)
    elif args.child == "aiokafka":
        asyncio.run(run_aiokafka(args, meter))
    elif args.child in FAUST_VARIANTS:
        app = build_faust_app(args, meter, FAUST_VARIANTS[args.child])
        sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
        app.main()  # runs until the parent terminates the worker
    else:
        raise SystemExit(f"unknown method {args.child}")


# --------------------------------------------------------------------------- #
# Parent side
# --------------------------------------------------------------------------- #


def run_method(
    args: argparse.Namespace, method: str, topic: str, events: int, workdir: str
) -> Dict[str, Any]:
    group = f"{topic}-{method.replace('+', '-')}"
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child", method,
        "--bootstrap", args.bootstrap,
        "--partitions", str(args.partitions),
        "--events", str(events),
        "--topic", topic,
        "--group", group,
    ]
    if args.faust_settings:
        cmd += ["--faust-settings", args.faust_settings]
    if args.profile:
        cmd += ["--profile", os.path.abspath(args.profile)]
    cmd += ["--commit-interval", str(args.commit_interval)]
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=err, text=True,
        start_new_session=True,
    )
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + args.timeout
    result: Optional[Dict[str, Any]] = None
    while result is None:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])

    stop_process(proc)
    if result is not None and method.startswith("faust"):
        # The commit check: what the group had committed once the worker stopped.
        committed_group = group + "-hotpath" if method == "faust+aiokafka" else group
        result["committed"] = committed_total(args.bootstrap, committed_group)
    if result is None:
        err.seek(0)
        tail = err.read()[-2000:]
        err.close()
        return {"method": method, "error": f"no result within {args.timeout}s", "stderr": tail}
    err.close()
    return result


def committed_total(bootstrap: str, group: str) -> Optional[int]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="consume-bench")
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
        return sum(o.offset for o in offsets.values() if o.offset >= 0)
    except Exception:  # reporting only
        return None
    finally:
        admin.close()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def print_table(results: List[Dict[str, Any]]) -> None:
    base = next((r for r in results if r["method"] == BASELINE and "rate" in r), None)
    header = (
        f"{'method':<16} {'events':>8} {'events/s':>10} {'seconds':>8} "
        f"{'vs aiokafka':>11} {'cpu s':>6} {'cpu %':>6} {'cpu us/ev':>9} {'startup s':>9} "
        f"{'per delivery':>12} {'committed':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['method']:<16} ERROR: {r['error']}")
            continue
        ratio = r["rate"] / base["rate"] if base else float("nan")
        cpu_pct = 100.0 * r["cpu_s"] / r["seconds"] if r["seconds"] else 0.0
        print(
            f"{r['method']:<16} {r['events']:>8} {r['rate']:>10,.0f} {r['seconds']:>8.2f} "
            f"{ratio:>10.2f}x {r['cpu_s']:>6.2f} {cpu_pct:>5.0f}% "
            f"{1e6 * r['cpu_s'] / max(1, r['timed_events']):>9.1f} {r['startup_s']:>9.2f} "
            f"{r['avg_delivery']:>12,.0f} {str(r.get('committed', '-')):>9}"
        )


def parent_main(args: argparse.Namespace) -> None:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m}; choose from {', '.join(METHODS)}")
    topic = f"consume-bench-{uuid.uuid4().hex[:8]}"
    print(f"broker {args.bootstrap}  topic {topic}  partitions {args.partitions}  events {args.events}")
    create_topic(args.bootstrap, topic, args.partitions)
    prod = produce(args.bootstrap, topic, args.events, args.partitions)
    print(
        f"produced {args.events} events (avg {prod['avg_bytes']:.0f} B) in "
        f"{prod['seconds']:.1f}s = {prod['rate']:,.0f}/s with kafka-python"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="consume-bench-") as workdir:
        for method in methods:
            events = args.events
            if method == "faust-default" and args.faust_default_events:
                events = min(events, args.faust_default_events)
            r = run_method(args, method, topic, events, workdir)
            results.append(r)
            if "error" in r:
                print(f"  {method}: ERROR {r['error']}\n{r.get('stderr', '')}", flush=True)
            else:
                print(
                    f"  {method}: {r['events']} events, {r['rate']:,.0f}/s, {r['seconds']:.2f}s",
                    flush=True,
                )
    print()
    print_table(results)
    if args.json:
        print(json.dumps(results, indent=2))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default="127.0.0.1:29092")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma separated subset of: " + ", ".join(METHODS))
    p.add_argument("--faust-default-events", type=int, default=0,
                   help="read only this many events with faust-default (0 = all)")
    p.add_argument("--faust-settings", default="",
                   help="JSON object of extra Faust settings applied to every Faust method")
    p.add_argument("--timeout", type=float, default=150.0,
                   help="seconds allowed per method")
    p.add_argument("--commit-interval", type=float, default=1.0,
                   help="faust+aiokafka: seconds between offset commits of applied "
                        "batches (0 = commit after every batch)")
    p.add_argument("--json", action="store_true", help="also print raw results as JSON")
    p.add_argument("--profile", default="",
                   help="directory for a cProfile dump of each method's event-loop thread "
                        "over the timed window (slows every method down)")
    # internal: run one method in this process
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--topic", help=argparse.SUPPRESS)
    p.add_argument("--group", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args)
    else:
        parent_main(args)


if __name__ == "__main__":
    main()
