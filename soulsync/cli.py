"""The `soulsync` command: `soulsync train` trains, evaluates and exports the model."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from soulsync.inference.card import SHIPPED_MODEL_DIR


def _train(args: argparse.Namespace) -> int:
    # TensorFlow's C++ chatter (CUDA probing, CPU flags, graph attributes) hides the progress
    # lines; real failures still arrive as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from soulsync.training.data import DataError
    from soulsync.training.train import run

    try:
        run(args.data, args.out, epochs=args.epochs)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soulsync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train",
        help="train, evaluate and export the model",
        description="Train on the two Kaggle survey files, evaluate, and write the model files, "
        "the model card and the report.",
    )
    train.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder holding depression_professional.csv and depression_student.csv",
    )
    train.add_argument(
        "--out",
        type=Path,
        default=SHIPPED_MODEL_DIR,
        help="where to write the artifacts (default: the package's shipped model, %(default)s)",
    )
    train.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override every candidate's epoch count (for quick checks only)",
    )
    train.set_defaults(handler=_train)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
