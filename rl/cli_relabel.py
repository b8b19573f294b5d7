"""``vlmcar relabel``: run a reward program over every frame of an offline dataset.

``vlmcar relabel PROGRAM --dataset MINARI_ID|FILE.npz --out OUT.npz [--ray [auto|ADDRESS]]
[--workers N] [--isolation strict|process] [--resume] ...``

``PROGRAM`` is a reward-program or bundle directory (as ``vlmcar train --reward DIR`` takes), its
``program.json``, or ``reference:ENV_ID``. Writes ``OUT.npz`` (per-frame sub-task flags, the shaped
reward, per-episode checker failures, the original rewards; layout in :mod:`rl.relabel`) and
``OUT.json`` (provenance and counts), and prints a per-sub-task table. Without ``--ray`` the
partitions run one after another in this process (each in its own sandbox); with ``--ray`` each is a
Ray task: ``--ray`` or ``--ray auto`` joins the cluster ``RAY_ADDRESS`` or ``ray start`` names, else
starts a local one; ``--ray HOST:6379`` joins that cluster (put ``--ray`` after ``PROGRAM``, or give
it a value). Finished partitions are kept in ``OUT.parts/``; after a crash or Ctrl-C, the same
command with ``--resume`` computes only the rest.

Exit codes: 0 done (checker failures are counted in the output, not errors); 2 refused before any
work (no such program or dataset, a dataset without frames, ``--out`` an existing file without
``--resume``, partitions of another run in the way, Ray not installed or no cluster at ADDRESS, an
isolation level this machine or a Ray node cannot provide, naming the node); 3 a partition failed
while it ran (the finished ones are kept); 130 Ctrl-C (the finished partitions are kept).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vlmcar.args import positive_float, positive_int

__all__ = ["configure", "format_table", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``relabel`` arguments to ``parser``."""
    parser.add_argument(
        "program",
        metavar="PROGRAM",
        help="reward-program or bundle directory (program.json + one .py per sub-task), its "
        "program.json, or reference:ENV_ID",
    )
    parser.add_argument(
        "--dataset",
        required=True,
        metavar="MINARI_ID|FILE.npz",
        help="a local Minari dataset (id, minari:id or directory; frames in infos['frame'] or "
        "picture observations) or an .npz with frames (T, H, W, 3) uint8 and episode_starts",
    )
    parser.add_argument(
        "--out", required=True, metavar="OUT.npz", help="the output .npz (OUT.json next to it)"
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="auto|ADDRESS",
        help="run each partition as a Ray task: auto (default when given alone: the cluster "
        "RAY_ADDRESS or `ray start` names, else a local one) or a cluster address HOST:PORT",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="Ray tasks in flight at once (default: the cluster's CPUs); needs --ray",
    )
    parser.add_argument(
        "--isolation",
        choices=("strict", "process"),
        help="sandbox isolation for the checkers (default: the strongest this machine supports; "
        "with --ray every node must support it)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the partitions an interrupted run of the same command finished (OUT.parts/) "
        "and compute only the rest",
    )
    parser.add_argument(
        "--partition-frames",
        type=positive_int,
        metavar="N",
        help="frames per partition, whole episodes (default 20000, fewer for large frames)",
    )
    parser.add_argument(
        "--batch-frames",
        type=positive_int,
        default=1024,
        metavar="N",
        help="frames per sandbox evaluate call (default 1024)",
    )
    parser.add_argument(
        "--checker-timeout",
        type=positive_float,
        default=5.0,
        metavar="S",
        help="seconds one checker may take over one batch (default 5)",
    )
    parser.add_argument(
        "--max-failures",
        type=positive_int,
        metavar="N",
        help="disable a checker after N failures, counting its later frames as failed "
        "(default: never; every frame is checked)",
    )
    parser.add_argument(
        "--keep-parts", action="store_true", help="keep OUT.parts/ after the output is written"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)"
    )


def format_table(summary: dict[str, Any]) -> str:
    """A plain-text per-sub-task table of a relabelling run's sidecar."""
    head = (
        "sub-task",
        "fired frames",
        "fire rate",
        "latched episodes",
        "failed frames",
        "statuses",
    )
    rows = []
    for name, per in summary["counts"]["subtasks"].items():
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(per["failure_statuses"].items()))
        rows.append(
            (
                name,
                f"{per['fired_frames']:,}",
                f"{per['fire_rate']:.3f}",
                f"{per['latched_episodes']:,}",
                f"{per['failed_frames']:,}",
                statuses or "-",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _error(message: str, code: int = 2) -> int:
    print(f"vlmcar relabel: error: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """Relabel the dataset, print the table; return the exit code."""
    from rl.demos import DemoError
    from rl.errors import PartitionError, RelabelError, RelabelInterrupted
    from rl.program import ProgramError
    from rl.relabel import relabel
    from sandbox.errors import IsolationUnavailable, SandboxError

    try:
        result = relabel(
            args.program,
            args.dataset,
            args.out,
            ray=args.ray,
            workers=args.workers,
            isolation=args.isolation,
            resume=args.resume,
            partition_frames=args.partition_frames,
            batch_frames=args.batch_frames,
            checker_timeout=args.checker_timeout,
            max_failures=args.max_failures,
            keep_parts=args.keep_parts,
            progress=not args.no_progress,
        )
    except DemoError as err:
        return _error(f"--dataset {err.source}: {err.problem}")
    except (RelabelError, ProgramError, IsolationUnavailable) as err:
        return _error(str(err))  # NodeIsolationError is an IsolationUnavailable
    except PartitionError as err:
        return _error(str(err), 3)
    except SandboxError as err:
        return _error(f"the sandbox failed: {err}", 3)
    except RelabelInterrupted as err:
        print(f"\nvlmcar relabel: {err}", file=sys.stderr)
        return 130
    summary = result.summary
    counts, info = summary["counts"], summary["run"]
    where = f"Ray ({info['workers']} workers on {', '.join(info['nodes'])})"
    print(
        f"{counts['episodes']:,} episodes, {counts['frames']:,} frames; {result.partitions} "
        f"partition(s): {len(result.computed)} computed"
        + (f", {len(result.resumed)} resumed" if result.resumed else "")
        + f"; {'serial' if info['executor'] == 'serial' else where}, isolation "
        f"{info['isolation']}; {info['seconds']:.1f} s, {info['frames_per_second']:,.0f} frames/s"
    )
    print(format_table(summary))
    if counts["failed_checks"]:
        print(
            f"vlmcar relabel: {counts['failed_checks']:,} failed checks counted (flag False, "
            "valid False, per episode in failures)",
            file=sys.stderr,
        )
    print(f"wrote {result.out} and {result.sidecar}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``vlmcar relabel`` without the ``vlmcar`` dispatcher (``python -m rl.cli_relabel``)."""
    parser = argparse.ArgumentParser(
        prog="vlmcar relabel", description=(__doc__ or "").split("\n")[0]
    )
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
