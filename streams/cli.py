"""``freshrec <command>``: parse arguments, build settings, call one function.

Commands: kafka, train, evaluate, produce, worker, serve, run. Settings come from
``FRESHREC_*`` environment variables; flags override the few that a command takes.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from pydantic import ValidationError

from streams.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {
        "dataset": getattr(args, "dataset", None) if getattr(args, "dataset", None) in ("movielens", "kuairand") else None,
        "checkpoint": getattr(args, "checkpoint", None),
        "http_port": getattr(args, "port", None),
    }.items() if v is not None}
    return Settings(**overrides)


def cmd_kafka(args: argparse.Namespace) -> int:
    from streams.broker import ensure_broker, stop_broker

    settings = _settings(args)
    if args.action == "start":
        print(ensure_broker(settings))
    else:
        stop_broker(settings)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from model.train import train

    settings = _settings(args)
    out = args.out or settings.trained_checkpoint()
    options = {"epochs": args.epochs} if args.epochs is not None else {}
    report = train(args.dataset, out, seed=args.seed, max_minutes=args.max_minutes, **options)
    print(f"checkpoint written to {out}")
    for key, value in report.items():
        print(f"  {key}: {value}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.evaluate import evaluate

    if args.ceiling and args.dataset != "kuairand":
        print("--ceiling is a KuaiRand diagnostic; use --dataset kuairand", file=sys.stderr)
        return 2
    if args.prequential and args.dataset != "movielens":
        print("--prequential replays MovieLens; use --dataset movielens", file=sys.stderr)
        return 2
    options = {"ceiling": True} if args.ceiling else {"prequential": True} if args.prequential else {}
    for path in evaluate(args.dataset, seed=args.seed, validation=args.validation, **options):
        print(f"wrote {path}")
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from streams.producer import publish, read_json_lines

    settings = _settings(args)
    if args.stdin:
        events = read_json_lines(sys.stdin)
    else:
        from model.datasets import iter_events, load_dataset

        events = iter_events(load_dataset(args.dataset))
    report = publish(settings, events, rate=args.rate, limit=args.limit, validate=not args.no_validate,
                     progress=not args.stdin)
    print(f"sent {report.sent} events in {report.seconds:.1f}s; rejected {report.rejected}", file=sys.stderr)
    return 1 if report.rejected and args.stdin else 0


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.runtime import run_worker

    return run_worker(_settings(args), serve=args.serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from streams.runtime import run_serve

    return run_serve(_settings(args))


def cmd_run(args: argparse.Namespace) -> int:
    from streams.runtime import run_all

    return run_all(_settings(args), rate=args.rate, limit=args.limit, epochs=args.epochs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freshrec", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("kafka", help="start or stop the embedded Kafka broker")
    p.add_argument("action", choices=("start", "stop"))
    p.set_defaults(func=cmd_kafka)

    p = sub.add_parser("train", help="train the GraphSAGE model and write a checkpoint")
    p.add_argument("--dataset", default="movielens", help="movielens, kuairand, or a JSON-lines events file")
    p.add_argument("--out", type=Path, help="checkpoint path (default: <state_dir>/model-<dataset>.pt)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="GNN and baselines side by side; writes docs/results/*.md and .json")
    p.add_argument("--dataset", default="movielens", choices=("movielens", "kuairand"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validation", action="store_true",
                   help="run each protocol on the data before its own test period (model selection); "
                        "writes artifacts/validation/")
    p.add_argument("--ceiling", action="store_true",
                   help="KuaiRand: what the inputs known at the cut can explain of the test period "
                        "(LightGBM fit inside it); writes docs/results/kuairand-ceiling.md")
    p.add_argument("--prequential", action="store_true",
                   help="MovieLens: replay the test period, vectors fresh at each event vs frozen at the cut; "
                        "writes docs/results/movielens-prequential.md")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("produce", help="publish events: a bundled dataset replayed in time order, or stdin")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", default="movielens", choices=("movielens", "kuairand"))
    source.add_argument("--stdin", action="store_true", help="JSON lines with a 'type' field from stdin")
    p.add_argument("--rate", type=float, default=None, help="events per second (default: as fast as possible)")
    p.add_argument("--limit", type=int, default=None, help="stop after this many events")
    p.add_argument("--no-validate", action="store_true", help="send events unchecked (to try the dead-letter path)")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("worker", help="consume events, update the graph, re-embed, publish vectors")
    p.add_argument("--serve", action="store_true", help="also answer HTTP from the in-process index")
    p.add_argument("--checkpoint", type=Path)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("serve", help="follow the embeddings topic and answer recommendation lookups")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("run", help="everything on one machine: broker, training if needed, worker, server, replay")
    p.add_argument("--dataset", choices=("movielens", "kuairand"))
    p.add_argument("--rate", type=float, default=2000.0, help="replay speed in events per second")
    p.add_argument("--limit", type=int, default=None, help="replay at most this many events")
    p.add_argument("--epochs", type=int, default=None, help="epochs if a model has to be trained first")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        # Client libraries narrate every connection at INFO; keep their warnings only.
        for name in ("kafka", "aiokafka", "faiss.loader"):
            logging.getLogger(name).setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.")
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        print(f"freshrec: bad FRESHREC_* setting:\n{exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ConnectionError, RuntimeError, ValueError) as exc:
        print(f"freshrec {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
