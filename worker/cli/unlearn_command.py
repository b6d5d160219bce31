"""`unlearn-audit unlearn TARGET CORPUS --out DIR`: run one unlearning method and save the model folder."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from service.specs.presets import PRESETS
from service.specs.unlearning import UNLEARNING_METHODS, UnlearningConfig
from worker.cli.progress_bars import StageBars
from worker.cli.run_command import validation_message

OPTION_FIELDS = (
    "name",
    "method",
    "preset",
    "lr",
    "epochs",
    "max_steps",
    "batch_size",
    "chunk_length",
    "alpha",
    "dtype",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("unlearn", help="unlearn a target model on a corpus bundle's forget text")
    parser.add_argument("target", help="the target model: a local folder or a hub id")
    parser.add_argument("corpus", type=Path, help="the corpus bundle: a MUSE folder or a JSON document")
    parser.add_argument("--out", type=Path, required=True, help="folder for the unlearned model")
    parser.add_argument("--config", type=Path, help="the method config as JSON (options below override it)")
    parser.add_argument("--method", choices=UNLEARNING_METHODS)
    parser.add_argument("--name", help="the model's name in reports (default: the method)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="the paper's hyperparameters; options override")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--max-steps", dest="max_steps", type=int)
    parser.add_argument("--batch-size", dest="batch_size", type=int)
    parser.add_argument("--chunk-length", dest="chunk_length", type=int)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--dtype", choices=("fp32", "bf16"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle, evaluates=True)


def method_config(args: argparse.Namespace) -> Any:
    """The config from --config and the options; raises ValueError naming the field and the reason."""
    document: dict[str, Any] = {}
    if args.config is not None:
        try:
            document = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{args.config}: not a readable JSON config ({error})") from None
    document.update({key: getattr(args, key) for key in OPTION_FIELDS if getattr(args, key) is not None})
    if "method" not in document:
        raise ValueError("method: give --method or a --config with a `method`")
    document.setdefault("name", document["method"])
    try:
        return TypeAdapter(UnlearningConfig).validate_python(document)
    except ValidationError as error:
        raise ValueError(f"invalid method config:\n{validation_message(error)}") from None


def handle(args: argparse.Namespace) -> int:
    from service.specs.corpus import CorpusError, load_bundle
    from worker.engine.models import ModelLoadError, load_model
    from worker.engine.unlearning import run_unlearning, save_unlearned

    try:
        config = method_config(args)
        corpus = load_bundle(args.corpus)
        target = load_model("target", args.target)
    except (ValueError, CorpusError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    bars = StageBars(enabled=not args.quiet)
    try:
        outcome = run_unlearning(config, target.model, target.tokenizer, corpus, args.seed, progress=bars)
    except ValueError as error:
        bars.close()
        print(f"error: {error}", file=sys.stderr)
        return 1
    bars.close()
    folder = save_unlearned(outcome, target.tokenizer, args.out)
    record = outcome.record
    last = record.curve[-1] if record.curve else {}
    print(f"{record.name} ({record.method}): {record.steps} steps in {record.duration_s:.1f} s, final loss "
          f"{last.get('loss', float('nan')):.4f}; saved to {folder}")  # fmt: skip
    return 0
