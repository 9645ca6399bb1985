"""The `soulsync` command: `train` the model and `check-model` (both need the train extra),
`monitor` drift from exports and `recalibrate` a model to local outcomes (both need the monitor
extra). The generated files have a command of their own (`python -m generators`).

`monitor` exits 1 only for `shift` (a scheduled job reads it so); every failure of `monitor` or
`recalibrate`, an extra this install lacks included, exits 2 with one line that says what to do.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from soulsync.inference.backends import ModelLoadError
from soulsync.inference.model_folder import DEFAULT_MODEL_PATH, SHIPPED_MODEL_DIR

#: The checkout this package runs from, when it is installed from one (`make serve`, `make
#: develop`: an editable install); in the service image there is no checkout.
CHECKOUT = Path(__file__).resolve().parent.parent
DEVELOP_LOCK = Path("requirements") / "develop.txt"
#: Exit status of `monitor` and `recalibrate` for anything that stops them.
FAILED = 2


def _train(args: argparse.Namespace) -> int:
    # TensorFlow's C++ chatter (CUDA probing, CPU flags) hides the progress lines; real failures
    # still arrive as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Imported here, not at the top: training needs TensorFlow (the optional `train` extra, and
    # 3 s and 600 MB to import), which the service and the other subcommands never load.
    from soulsync.training.data import DataError
    from soulsync.training.pipeline import run

    try:
        run(args.data, args.out, epochs=args.epochs)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _check_model(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Imported here for the same reason as in _train: TensorFlow is the optional train extra.
    from soulsync.training.check import check_shipped
    from soulsync.training.data import DataError

    try:
        problems = check_shipped(args.data, args.model)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"error: the shipped model is not what training makes of the data: {problem}")
    return 1 if problems else 0


def missing_extra(command: str, error: ModuleNotFoundError) -> str:
    """What to run to get the extra a subcommand needs, for this install: from the checkout's
    own lock when there is one."""
    needs = (
        f"error: soulsync {command} needs the `monitor` extra (scikit-learn, matplotlib), which "
        f"this install lacks (no module {error.name!r}). "
    )
    if (CHECKOUT / DEVELOP_LOCK).is_file() and (CHECKOUT / "Makefile").is_file():
        return needs + (
            f"Install it from this checkout's lock: `make -C {CHECKOUT} develop` (that is "
            f"`.venv/bin/pip install --require-hashes --no-deps -r {DEVELOP_LOCK}` there, with "
            "the training and test tools as well)."
        )
    return needs + (
        "This install has no checkout beside it (the service image, say): run it from a "
        "checkout of the same version, after `make develop` there (docs/monitoring.md)."
    )


def _monitor(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the report needs matplotlib and scikit-learn (the optional
    # `monitor` extra, which the service never loads).
    try:
        from soulsync.analysis.exports import ExportError
        from soulsync.monitor import MonitorError, monitor
        from soulsync.monitor.report import write_report
    except ModuleNotFoundError as error:
        print(missing_extra("monitor", error), file=sys.stderr)
        return FAILED
    try:
        monitoring = monitor(args.exports, args.model)
        written = write_report(monitoring, args.out)
    except (ExportError, MonitorError, ModelLoadError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILED
    except Exception as error:  # exit 1 means `shift` to a scheduled job: never a crash
        print(f"error: soulsync monitor failed: {type(error).__name__}: {error}", file=sys.stderr)
        return FAILED
    summary = monitoring.summary()
    print(
        f"{summary['rows']} questionnaires, model {summary['model_version']}: {monitoring.status}"
    )
    mix = summary["group_mix"]
    print(f"  group mix: {mix['status']}" + (f" ({mix['psi']:.3f})" if mix["psi"] else ""))
    for group, drift in summary["groups"].items():
        moved = [f"{f['name']} {f['psi']:.3f}" for f in drift["figures"] if f["status"] == "shift"]
        print(f"  {group}: {drift['status']}" + (f" ({', '.join(moved)})" if moved else ""))
        outcomes = drift.get("outcomes")
        if outcomes and outcomes["calibration_slope"]:
            due = "recalibration due" if outcomes["recalibration_due"] else "no recalibration due"
            print(
                f"    with outcomes: ECE {outcomes['ece']:.3f}, calibration slope "
                f"{outcomes['calibration_slope']['value']:.2f}, intercept "
                f"{outcomes['calibration_intercept']['value']:.2f}: {due}"
            )
    print(f"report: {written[-1]}; summary: {written[0]}")
    return 1 if monitoring.status == "shift" else 0


def _recalibrate(args: argparse.Namespace) -> int:
    # Imported here for the same reason as in _monitor: the `monitor` extra.
    try:
        from soulsync.analysis.exports import ExportError
        from soulsync.recalibration import RecalibrationError, recalibrate
        from soulsync.recalibration.report import write_folder
    except ModuleNotFoundError as error:
        print(missing_extra("recalibrate", error), file=sys.stderr)
        return FAILED
    try:
        recalibrated = recalibrate(args.exports, args.model)
        write_folder(recalibrated, args.model, args.out)
    except (ExportError, RecalibrationError, ModelLoadError, OSError) as error:
        print(f"error: {error}\nnothing was written", file=sys.stderr)
        return FAILED
    except Exception as error:  # one line and exit 2, as for monitor; nothing is written
        print(
            f"error: soulsync recalibrate failed: {type(error).__name__}: {error}\n"
            "nothing was written",
            file=sys.stderr,
        )
        return FAILED
    card = recalibrated.card
    assert card.recalibration is not None
    print(f"model {card.version}, recalibrated from {card.recalibration.base_version}:")
    for group, result in card.recalibration.groups.items():
        line = f"  {group}: {result.status}, {result.note}"
        if result.after is not None and result.after.calibration_slope is not None:
            line += (
                f"; ECE {result.before.ece.value:.3f} -> {result.after.ece.value:.3f}, slope "
                f"{result.before.calibration_slope.value:.2f} -> "
                f"{result.after.calibration_slope.value:.2f} (held out), threshold "
                f"{card.decision.groups[group].threshold:.4f}"
            )
        print(line)
    print(f"wrote {args.out}; serve it with SOULSYNC_MODEL_PATH={args.out / card.artifacts.tflite}")
    return 0


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="soulsync", description="SoulSync model service: train, check, monitor, recalibrate."
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train, evaluate and export the model",
        description="Train on the two Kaggle survey files, evaluate, and write the model files, "
        "the model card and the report.",
    )
    train_data_help = "folder holding depression_professional.csv and depression_student.csv"
    train.add_argument("--data", type=Path, required=True, help=train_data_help)
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

    check_model = commands.add_parser(
        "check-model",
        help="retrain and compare with the shipped model",
        description="Retrain on the survey files into a temporary folder and compare with the "
        "shipped model: the same version, and the same probabilities and results on every row.",
    )
    check_model.add_argument("--data", type=Path, required=True, help=train_data_help)
    check_model.add_argument(
        "--model",
        type=Path,
        default=SHIPPED_MODEL_DIR,
        help="the model folder to compare with (default: the shipped one, %(default)s)",
    )
    check_model.set_defaults(handler=_check_model)

    monitor = commands.add_parser(
        "monitor",
        help="drift report from exports of answers",
        description="Score exports of answers (CSV or JSON lines: the ten wire keys, as codes "
        "or labels; optionally Depression and timestamp) with the shipped model and compare "
        "them with the data it learned from. Writes index.html, its charts and summary.json. "
        "Exit status: 0, or 1 when any figure reads `shift`, 2 for an export that cannot be "
        "read.",
    )
    monitor.add_argument("exports", type=Path, nargs="+", help="CSV or .jsonl files")
    monitor.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="the model file (default: the shipped one, %(default)s)",
    )
    monitor.add_argument(
        "--out",
        type=Path,
        default=Path("monitoring-report"),
        help="folder for the report (default: %(default)s)",
    )
    monitor.set_defaults(handler=_monitor)

    recalibrate = commands.add_parser(
        "recalibrate",
        help="fit a model's probabilities to local outcomes, into a new model folder",
        description="Fit each group's probabilities to exports of answers with outcomes (the "
        "format soulsync monitor reads, with Depression on every row), re-derive each group's "
        "threshold by the training's rule, and write a new model folder: the same model file, "
        "a card with the map and a new version, and recalibration.html. Exit status: 0, or 2 "
        "when nothing could be recalibrated (nothing is written then).",
    )
    recalibrate.add_argument(
        "exports", type=Path, nargs="+", help="CSV or .jsonl files with outcomes"
    )
    recalibrate.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL_PATH,
        help="the model file to recalibrate (default: the shipped one, %(default)s)",
    )
    recalibrate.add_argument(
        "--out", type=Path, required=True, help="the new model folder (must not exist yet)"
    )
    recalibrate.set_defaults(handler=_recalibrate)

    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
