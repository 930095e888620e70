"""`exo-assets` command line: materialize the pipeline, start the UI, run benchmarks.

    exo-assets materialize [--mission Kepler --mission TESS] [--backend simulated|local|mast]
                           [--local-dir DIR] [--targets N] [--seed N] [--workers N] [--dask-scheduler ADDR]
    exo-assets dev [--port 3000]
    exo-assets bench preprocess | scale | throughput | api | vetting
    exo-assets benchmark-tfrecord --train SHARDS... --val SHARDS... --test SHARDS... --out DIR
    exo-assets materialize-external --set vetting|toi|dr24 --dir FOLDER [--tce-params CSV]
                                    [--seed N] [--cnn-epochs N]
    exo-assets sim2real --views SHARD... --out DIR [--home DAGSTER_HOME]

Dagster reads its instance config from $DAGSTER_HOME/dagster.yaml. These commands use
$DAGSTER_HOME when it is set, else ./.dagster_home, and copy the repository's dagster.yaml there
when it has none, so runs started here show in `exo-assets dev`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from exo_assets.defaults import dagster_home
from exo_assets.science.missions import MISSIONS


def _repo_dagster_yaml() -> Path | None:
    for candidate in (Path.cwd() / "dagster.yaml", Path(__file__).resolve().parent.parent / "dagster.yaml"):
        if candidate.is_file():
            return candidate
    return None


def ensure_dagster_home(home: str | None = None) -> Path:
    """Set DAGSTER_HOME (argument, environment, or ./.dagster_home) and give it a dagster.yaml."""
    path = dagster_home(home).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(path)
    target = path / "dagster.yaml"
    source = _repo_dagster_yaml()
    if not target.exists() and source is not None:
        shutil.copyfile(source, target)
    return path


def _archive_from_args(args):
    from resources import LightCurveArchive

    kwargs = {"backend": args.backend}
    if args.local_dir:
        kwargs["local_dir"] = str(Path(args.local_dir).resolve())
    if args.targets is not None:
        kwargs["targets_per_mission"] = args.targets
    if args.seed is not None:
        kwargs["sim_seed"] = args.seed
        kwargs["selection_seed"] = args.seed
    if args.cache_dir:
        kwargs["cache_dir"] = str(Path(args.cache_dir).resolve())
    return LightCurveArchive(**kwargs)


def _compute_from_args(args):
    from resources import ComputeResource

    if args.dask_scheduler:  # "local": a LocalCluster of --workers one-thread processes started for the run
        address = "" if args.dask_scheduler == "local" else args.dask_scheduler
        return ComputeResource(backend="dask", scheduler_address=address, max_workers=args.workers)
    return ComputeResource(max_workers=args.workers)


def step_durations(result) -> list[tuple[str, float]]:
    """(step key, seconds) of every successful step of an in-process run, in execution order."""
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            out.append((event.step_key, event.event_specific_data.duration_ms / 1000.0))
    return out


def cmd_materialize(args) -> int:
    """Materialize every asset for each mission partition through the instance in DAGSTER_HOME."""
    home = ensure_dagster_home(args.home)
    import dagster as dg

    from exo_assets.definitions import MISSION_JOB, SUMMARY_JOB, build_defs

    if args.backend == "local" and not args.local_dir:
        print("error: --backend local needs --local-dir", file=sys.stderr)
        return 2
    defs = build_defs(archive=_archive_from_args(args), compute=_compute_from_args(args))
    job = defs.resolve_job_def(MISSION_JOB)
    run_config: dict = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    if args.cnn_epochs is not None:
        run_config["ops"] = {"cnn_oof": {"config": {"epochs": args.cnn_epochs}}}
    instance = dg.DagsterInstance.get()
    failed = []
    for mission in args.mission or MISSIONS:
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=mission, instance=instance, raise_on_error=False, run_config=run_config
        )
        status = "SUCCESS" if result.success else "FAILURE"
        print(
            f"[exo-assets] {mission}: {status} in {time.perf_counter() - started:.1f} s "
            f"(run {result.run_id})",
            flush=True,
        )
        for step, seconds in step_durations(result):
            print(f"[exo-assets]   {step:<48s} {seconds:7.1f} s", flush=True)
        if not result.success:
            failed.append(mission)
    # The unpartitioned cross-mission summary (its own job) reads every final_report partition stored so far.
    if len(failed) < len(args.mission or MISSIONS):
        started = time.perf_counter()
        result = defs.resolve_job_def(SUMMARY_JOB).execute_in_process(
            instance=instance, raise_on_error=False, run_config={"loggers": run_config["loggers"]}
        )
        print(
            f"[exo-assets] report_summary: {'SUCCESS' if result.success else 'FAILURE'} in "
            f"{time.perf_counter() - started:.1f} s (run {result.run_id})",
            flush=True,
        )
        if not result.success:
            failed.append("report_summary")
    else:
        print("[exo-assets] report_summary skipped: no mission succeeded", flush=True)
    print(f"[exo-assets] DAGSTER_HOME={home}; browse the runs with `exo-assets dev`.")
    return 1 if failed else 0


def cmd_dev(args) -> int:
    """Start `dagster dev` on the repository's workspace with DAGSTER_HOME prepared."""
    ensure_dagster_home(args.home)
    argv = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        "workspace.yaml",
        "-p",
        str(args.port),
        "-h",
        args.host,
    ]
    os.execv(argv[0], argv)
    return 0  # pragma: no cover


def cmd_benchmark_tfrecord(args) -> int:
    """Train the project's booster + CNN + blend on TFRecord shards and score the test shards."""
    from exo_assets.external.benchmark import run_benchmark
    from exo_assets.external.tfrecord_reader import TFRecordError

    try:
        run_benchmark(
            args.train,
            args.val,
            args.test,
            args.out,
            args.labels_from,
            args.seed,
            args.cnn_epochs,
            blend_min_gain_se=args.blend_min_gain_se,
            tce_params=args.tce_params,
            cnn_members=args.cnn_members,
            cnn_stack_folds=args.cnn_stack_folds,
        )
    except (TFRecordError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_materialize_external(args) -> int:
    """Materialize the external-views group for one TFRecord set through the instance in DAGSTER_HOME."""
    home = ensure_dagster_home(args.home)
    import dagster as dg

    from exo_assets.definitions import EXTERNAL_JOB, build_defs
    from resources import ExternalViewsSource

    folder = str(Path(args.dir).resolve())
    external = ExternalViewsSource(
        **{f"{args.set}_dir": folder},
        toi_catalog=str(Path(args.labels_from).resolve()) if args.labels_from else "",
        tce_params=str(Path(args.tce_params).resolve()) if args.tce_params else "",
    )
    job = build_defs(external=external).resolve_job_def(EXTERNAL_JOB)
    run_config = {
        "loggers": {"console": {"config": {"log_level": args.log_level}}},
        "ops": {
            "external_benchmark": {
                "config": {
                    "seed": args.seed,
                    "cnn_epochs": args.cnn_epochs,
                    "cnn_members": args.cnn_members,
                    "cnn_stack_folds": args.cnn_stack_folds,
                }
            }
        },
    }
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=args.set, instance=dg.DagsterInstance.get(), raise_on_error=False, run_config=run_config
    )
    print(
        f"[exo-assets] external {args.set}: {'SUCCESS' if result.success else 'FAILURE'} in "
        f"{time.perf_counter() - started:.1f} s (run {result.run_id}); DAGSTER_HOME={home}",
        flush=True,
    )
    if not result.success:
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                error = event.step_failure_data.error
                message = error.message.strip() if error is not None else "(no error info)"
                print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args) -> int:
    if args.which == "preprocess":
        from exo_assets.bench.preprocess import main as bench_main

        return bench_main(args.rest)
    if args.which == "scale":  # whole job at several catalog sizes: wall, signals/s, peak memory
        from exo_assets.bench.scale import main as bench_main

        return bench_main(args.rest)
    if args.which == "throughput":  # per-signal feature build, 1 vs 2 workers, local vs Dask
        from exo_assets.bench.throughput import main as bench_main

        return bench_main(args.rest)
    if args.which == "api":
        from exo_assets.bench.api import main as bench_main

        return bench_main(args.rest)
    if (
        args.which == "vetting"
    ):  # flag thresholds at <= 1% planet false alarm on injections, recall per target
        from exo_assets.bench.vetting import main as bench_main

        return bench_main(args.rest)
    print(f"unknown benchmark {args.which!r}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exo-assets", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    mat = sub.add_parser("materialize", help="materialize all assets for every mission partition")
    mat.add_argument("--mission", action="append", choices=MISSIONS, help="only this mission (repeatable)")
    mat.add_argument(
        "--backend",
        choices=["simulated", "local", "mast"],
        default="simulated",
        help="light-curve archive (default: the embedded simulator, no network)",
    )
    mat.add_argument("--local-dir", help="folder of FITS files for --backend local")
    mat.add_argument("--targets", type=int, help="stars per mission (0 = whole catalog)")
    mat.add_argument("--seed", type=int, help="seed of target selection and simulation")
    mat.add_argument("--cache-dir", help="download / simulation cache folder")
    mat.add_argument("--cnn-epochs", type=int, help="maximum CNN epochs (default 40)")
    mat.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="console log level of the runs (default INFO)",
    )
    mat.add_argument("--home", help="DAGSTER_HOME (default: $DAGSTER_HOME or ./.dagster_home)")
    mat.add_argument(
        "--workers", type=int, default=0, help="worker processes for per-star work (default 0: all cores)"
    )
    mat.add_argument(
        "--dask-scheduler",
        help="run per-star work on this Dask scheduler (tcp://host:8786; 'local': a LocalCluster)",
    )
    mat.set_defaults(func=cmd_materialize)

    dev = sub.add_parser("dev", help="start the Dagster UI (dagster dev) for this project")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--home", help="DAGSTER_HOME (default: $DAGSTER_HOME or ./.dagster_home)")
    dev.set_defaults(func=cmd_dev)

    tfr = sub.add_parser("benchmark-tfrecord", help="train and score the models on AstroNet-format TFRecords")
    from exo_assets.external.benchmark import add_arguments

    add_arguments(tfr)
    tfr.set_defaults(func=cmd_benchmark_tfrecord)

    ext = sub.add_parser(
        "materialize-external",
        help="materialize the external-views assets (real TFRecord signals) for one set",
    )
    ext.add_argument(
        "--set", required=True, choices=["vetting", "toi", "dr24"], help="which TFRecord set (partition)"
    )
    ext.add_argument(
        "--dir", required=True, help="folder with its train-*, val-* (and optional test-*) shards"
    )
    ext.add_argument(
        "--labels-from",
        help="TOI catalog CSV for --set toi (default: the shipped TOI table); a raw "
        "archive export also gives the hosts' stellar parameters",
    )
    ext.add_argument("--tce-params", help="astronet_vetting/tce_params.csv: physical inputs of --set vetting")
    ext.add_argument("--cnn-members", type=int, default=1, help="CNNs averaged (default 1)")
    ext.add_argument(
        "--cnn-stack-folds",
        type=int,
        default=0,
        help="k >= 2: cross-fitted fold CNNs whose out-of-fold probabilities feed the booster",
    )
    ext.add_argument("--seed", type=int, default=0)
    ext.add_argument(
        "--cnn-epochs", type=int, default=60, help="maximum CNN epochs (early stopping, patience 8)"
    )
    ext.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    ext.add_argument("--home", help="DAGSTER_HOME (default: $DAGSTER_HOME or ./.dagster_home)")
    ext.set_defaults(func=cmd_materialize_external)

    from exo_assets.bench.sim2real import add_arguments as sim2real_arguments

    sim2real_arguments(
        sub.add_parser("sim2real", help="score real Kepler DR24 views with simulator-trained models")
    )

    bench = sub.add_parser("bench", help="benchmarks that print their figures")
    bench.add_argument("which", choices=["preprocess", "scale", "throughput", "api", "vetting"])
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
