#!/usr/bin/python3
"""Runs the benchmark programs once and reports Tether's figures as one JSON.

    bazel run -c opt //bench:summary [-- --min_time=0.5 --repetitions=1]

Every figure comes from one counter of one Google Benchmark run (FIGURES);
ratios between figures measured in the same run (RATIOS) are what the
performance model asks for: Tether against raw gRPC on the same machine, at
the same moment. A short table goes to stdout first; the LAST line of stdout
is always one JSON object {output key: number}, also when some figure is
missing (then the exit status is 1 and stderr says why).

To add a figure: build the benchmark binary, add it to `data` of
//bench:summary, and add a Figure row below. To add a ratio, add a Ratio row;
it is emitted whenever both of its inputs were measured.
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys

WORKSPACE = "tether"

# binary: path relative to the workspace root (the Bazel label's path);
# benchmark: the registered name, without the /real_time or argument suffix
#   unless that is needed to pick one variant;
# counter: a user counter (state.counters[...]) or a numeric field of the
#   benchmark JSON such as real_time (in the benchmark's time unit);
# key: the name in the JSON line.
Figure = collections.namedtuple("Figure", "binary benchmark counter key")

FIGURES = [
    Figure("bench/baseline_benchmark", "BM_RawGrpcPingPong", "rtt_us",
           "raw_rtt_us"),
    Figure("bench/baseline_benchmark", "BM_RawGrpcStream", "msgs_per_s",
           "raw_stream_msgs_per_s"),
    Figure("bench/context_benchmark", "BM_ContextPingPong", "rtt_us",
           "ctx_rtt_us"),
    Figure("bench/context_benchmark", "BM_ContextStream", "msgs_per_s",
           "stream_msgs_per_s"),
    Figure("bench/context_benchmark", "BM_CancelIdle", "cancel_idle_ms",
           "cancel_idle_ms"),
    Figure("bench/context_benchmark", "BM_CancelUnderBacklog",
           "cancel_backlog_median_ms", "cancel_under_backlog_ms"),
    Figure("bench/context_benchmark", "BM_CancelUnderBacklog",
           "cancel_backlog_p99_ms", "cancel_under_backlog_p99_ms"),
    Figure("bench/context_benchmark", "BM_IdleContextBytes",
           "idle_context_bytes", "idle_context_bytes"),
    Figure("bench/tree_benchmark", "BM_Spawn16", "spawn16_s", "spawn16_s"),
    Figure("bench/tree_benchmark", "BM_TeardownDepth3", "teardown_depth3_s",
           "teardown_depth3_s"),
    Figure("bench/tree_benchmark", "BM_IdleActorRss", "idle_actor_rss_mb",
           "idle_actor_rss_mb"),
    Figure("bench/tree_benchmark", "BM_IdleActorRss", "idle_actor_anon_mb",
           "idle_actor_anon_mb"),
    Figure("bench/discovery_benchmark", "BM_FindActorEmbedded",
           "find_actor_us", "find_actor_us_embedded"),
    Figure("bench/discovery_benchmark", "BM_FindActorEtcd", "find_actor_us",
           "find_actor_us_etcd"),
    Figure("bench/discovery_benchmark", "BM_Register1000Embedded",
           "register_1000_s", "register_1000_s_embedded"),
    Figure("bench/discovery_benchmark", "BM_Register1000Etcd",
           "register_1000_s", "register_1000_s_etcd"),
]

# key = numerator / denominator, emitted only when both were measured. For a
# time (ctx_rtt_ratio) above 1 means Tether is slower than raw gRPC; for a
# rate (stream_ratio) below 1 does.
Ratio = collections.namedtuple("Ratio", "key numerator denominator")

RATIOS = [
    Ratio("ctx_rtt_ratio", "ctx_rtt_us", "raw_rtt_us"),
    Ratio("stream_ratio", "stream_msgs_per_s", "raw_stream_msgs_per_s"),
]

# A benchmark binary that runs longer than this is stopped and its figures
# are reported missing.
BINARY_TIMEOUT_S = 120


def workspace_root():
    """The runfiles directory of this workspace, where the binaries are."""
    runfiles = os.environ.get("RUNFILES_DIR")
    if runfiles:
        return os.path.join(runfiles, WORKSPACE)
    # Run straight from a runfiles tree: <root>/bench/summary.py. abspath
    # keeps the runfiles symlink instead of following it to the source tree.
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def benchmark_filter(benchmarks):
    """A --benchmark_filter regex that selects exactly these benchmarks."""
    return "^(%s)(/|$)" % "|".join(sorted(set(benchmarks)))


def run_binary(path, benchmarks, min_time, repetitions):
    """Runs one benchmark binary; returns (its parsed JSON, error or None)."""
    command = [
        path,
        "--benchmark_format=json",
        "--benchmark_filter=" + benchmark_filter(benchmarks),
        "--benchmark_min_time=%g" % min_time,
        "--benchmark_repetitions=%d" % repetitions,
    ]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=BINARY_TIMEOUT_S,
                              check=False)
    except FileNotFoundError:
        return None, "%s is not in the runfiles (add it to data)" % path
    except subprocess.TimeoutExpired:
        return None, "%s ran over %ds" % (path, BINARY_TIMEOUT_S)
    if done.returncode != 0:
        stderr_tail = done.stderr.decode(errors="replace")[-2000:]
        return None, "%s exited %d: %s" % (path, done.returncode, stderr_tail)
    try:
        return json.loads(done.stdout), None
    except ValueError as error:
        return None, "%s printed no benchmark JSON: %s" % (path, error)


def _matches(run_name, benchmark):
    return run_name == benchmark or run_name.startswith(benchmark + "/")


def extract(report, benchmark, counter):
    """One figure from a binary's JSON: (value, error or None).

    With repetitions the value is the median of the iteration runs.
    """
    runs = [run for run in report.get("benchmarks", [])
            if run.get("run_type", "iteration") == "iteration" and
            _matches(run.get("run_name", run["name"]), benchmark)]
    if not runs:
        return None, "%s did not run" % benchmark
    names = sorted({run.get("run_name", run["name"]) for run in runs})
    if len(names) > 1:
        return None, "%s is ambiguous: %s" % (benchmark, ", ".join(names))
    failed = [run for run in runs if run.get("error_occurred")]
    if failed:
        return None, "%s failed: %s" % (
            benchmark, failed[0].get("error_message", "no message"))
    values = [run.get(counter) for run in runs]
    if any(not isinstance(value, (int, float)) for value in values):
        return None, "%s has no counter %s" % (benchmark, counter)
    return statistics.median(values), None


def collect(figures, reports):
    """{key: value} for every figure measured, plus errors for the rest.

    `reports` maps a binary to (its JSON or None, error or None).
    """
    values = {}
    errors = []
    for figure in figures:
        report, error = reports[figure.binary]
        value = None
        if report is not None:
            value, error = extract(report, figure.benchmark, figure.counter)
        if error is None:
            values[figure.key] = value
        else:
            errors.append("%s: %s" % (figure.key, error))
    return values, errors


def derive(values, ratios):
    """{ratio key: value} for every ratio whose inputs are both in values."""
    derived = {}
    for ratio in ratios:
        numerator = values.get(ratio.numerator)
        denominator = values.get(ratio.denominator)
        if numerator is not None and denominator:
            derived[ratio.key] = numerator / denominator
    return derived


def format_table(figures, values, derived, ratios):
    """The human-readable lines printed before the JSON line."""
    lines = ["%-26s %14s  %s" % ("figure", "value", "source")]
    for figure in figures:
        value = values.get(figure.key)
        lines.append("%-26s %14s  %s %s.%s" % (
            figure.key, "missing" if value is None else "%.2f" % value,
            os.path.basename(figure.binary), figure.benchmark, figure.counter))
    for ratio in ratios:
        if ratio.key in derived:
            lines.append("%-26s %14.3f  %s / %s" % (
                ratio.key, derived[ratio.key], ratio.numerator,
                ratio.denominator))
    return lines


def json_line(values, derived):
    """The last line: figures rounded to what the noise allows, then ratios."""
    out = {key: round(value, 3) for key, value in values.items()}
    out.update({key: round(value, 4) for key, value in derived.items()})
    return json.dumps(out, sort_keys=True)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min_time", type=float, default=0.5,
                        help="seconds per benchmark (--benchmark_min_time)")
    parser.add_argument("--repetitions", type=int, default=1,
                        help="runs per benchmark; figures are the median")
    args = parser.parse_args(argv)

    root = workspace_root()
    by_binary = collections.OrderedDict()
    for figure in FIGURES:
        by_binary.setdefault(figure.binary, []).append(figure.benchmark)
    reports = {
        binary: run_binary(os.path.join(root, binary), benchmarks,
                           args.min_time, args.repetitions)
        for binary, benchmarks in by_binary.items()
    }
    values, errors = collect(FIGURES, reports)
    derived = derive(values, RATIOS)

    for error in errors:
        print("summary: " + error, file=sys.stderr)
    print("\n".join(format_table(FIGURES, values, derived, RATIOS)))
    print(json_line(values, derived), flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
