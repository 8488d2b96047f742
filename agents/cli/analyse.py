"""``neuromotor analyse``: the brain view of a trained brain or a recording.

    neuromotor analyse walker2d-walk --out analysis/walk         # a bundled brain, a run dir or a .zip
    neuromotor analyse recording.npz --out analysis/rec          # recorded analyses only (no lesions)

Writes PNG figures, ``report.json`` and a side-by-side video (body | top principal components and footfalls) into
``--out``, and the warnings of the analyses (NumPy's over constant or empty data, scikit-learn's) into its
``analysis.log``. PCA and the cross-validated decoders are scikit-learn's; figures are matplotlib's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch as th

from agents.analysis.report import analyse, logged_warnings
from agents.cli.parsing import OneLineParser, check_output, in_range, non_negative, positive, run_command
from agents.constants import VALIDATION_SEED

#: What ``--out`` holds; a path ending so is a file's name, not a folder's.
OUT_FILES = (".json", ".png", ".mp4", ".npz", ".log")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0,0.1,0.5, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="neuromotor analyse", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("target", help="bundled brain name, run directory, model .zip, or a --record .npz")
    parser.add_argument("--out", type=Path, required=True, help="folder for figures, report.json and the video")
    parser.add_argument("--episodes", type=int, default=3, help="episodes per condition (default 3)")
    parser.add_argument("--steps", type=int, default=1000, help="steps per episode (default 1000)")
    parser.add_argument(
        "--seed", type=int, default=VALIDATION_SEED, help=f"first episode seed (default {VALIDATION_SEED})"
    )
    parser.add_argument("--lesions", type=_floats, default=(0.0, 0.1, 0.25, 0.5), help="fractions of units, in [0, 1]")
    parser.add_argument("--pushes", type=_floats, default=(0.0, 5.0, 10.0, 20.0), help="impulses (N s)")
    parser.add_argument(
        "--push-step", type=int, help="env step of the push, below --steps (default 300, or a third of shorter --steps)"
    )
    parser.add_argument("--noise", type=_floats, default=(0.0, 0.05, 0.1, 0.2), help="added obs noise std, >= 0")
    parser.add_argument("--delays", type=_floats, default=(0, 1, 2, 4), help="added sensory delays (whole steps)")
    parser.add_argument("--video-steps", type=int, default=300, help="length of the side-by-side video (0: none)")
    args = parser.parse_args(argv)
    positive(parser, args, "episodes", "steps")
    non_negative(parser, args, "seed", "video_steps")
    if args.push_step is None:
        args.push_step = min(300, args.steps // 3)
    elif not 0 <= args.push_step < args.steps:
        parser.error(f"--push-step must be a step of the episode, in [0, {args.steps}) (--steps {args.steps}), "
                     f"got {args.push_step}")  # fmt: skip
    try:
        in_range("--lesions", args.lesions, 0, 1, "fractions")
        in_range("--pushes", args.pushes)
        in_range("--noise", args.noise, 0)
        in_range("--delays", args.delays, 0)
        if any(d != int(d) for d in args.delays):
            raise ValueError(f"--delays are whole numbers of steps >= 0, got {','.join(f'{d:g}' for d in args.delays)}")
        if args.out.suffix.lower() in OUT_FILES:
            raise ValueError(f"--out is a folder (for report.json, figures, the video and analysis.log), got "
                             f"{str(args.out)!r}; give a folder path")  # fmt: skip
        check_output("--out", args.out, folder=True)
    except ValueError as exc:
        parser.error(str(exc))
    if args.target.endswith(".npz") and not Path(args.target).is_file():
        parser.error(f"recording {args.target!r} does not exist")
    return run_command(parser, lambda: _analyse(args))


def _analyse(args: argparse.Namespace) -> int:
    th.set_num_threads(1)  # one env stepped at a time, as in evaluate.py: a second thread would only spin
    with logged_warnings(args.out / "analysis.log") as caught:
        report = analyse(
            args.target, args.out, episodes=args.episodes, steps=args.steps, seed=args.seed,
            lesion_fractions=args.lesions, push_impulses=args.pushes, push_step=args.push_step,
            noise_levels=args.noise, delay_levels=tuple(int(d) for d in args.delays), video_steps=args.video_steps,
        )  # fmt: skip
    pca_ratios = report["pca"]["explained_variance_ratio"]
    needed = report["pca"]["components_for_90_percent"]
    print(f"{report['target']}: {report['steps_recorded']} steps, {report['units']} units; "
          f"PC1-3 explain {sum(pca_ratios[:3]):.0%}; {needed} PCs for 90%")  # fmt: skip
    for key, value in report["decoding"].items():
        score = value.get("r2", value.get("accuracy"))
        control = value.get("shuffled_r2", value.get("shuffled_accuracy"))
        print(f"  decode {key}: {score:.2f} (shuffled {control:.2f})")
    print(f"wrote {args.out}/report.json and figures")
    if caught:
        print(f"{len(caught)} warnings of the analyses: see {args.out}/analysis.log")
    return 0
