#!/usr/bin/python3
"""Tests of bench/summary.py: the figure table and ratio logic on made-up
benchmark JSON, and one real run of //bench:summary with tiny benchmarks."""

import json
import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # Never litter the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import summary  # noqa: E402

FIGURES = [
    summary.Figure("bench/a", "BM_Rtt", "rtt_us", "raw_rtt_us"),
    summary.Figure("bench/b", "BM_CtxRtt", "rtt_us", "ctx_rtt_us"),
]
RATIOS = [
    summary.Ratio("ctx_rtt_ratio", "ctx_rtt_us", "raw_rtt_us"),
    summary.Ratio("stream_ratio", "stream_msgs_per_s",
                  "raw_stream_msgs_per_s"),
]


def run(name, **fields):
    entry = {"name": name, "run_name": name, "run_type": "iteration"}
    entry.update(fields)
    return entry


class SummaryLogicTest(unittest.TestCase):

    def test_ratio_only_when_both_inputs_exist(self):
        reports = {
            "bench/a": ({"benchmarks": [
                run("BM_Rtt/real_time", rtt_us=50.0)]}, None),
            "bench/b": ({"benchmarks": [
                run("BM_CtxRtt/real_time", rtt_us=75.0)]}, None),
        }
        values, errors = summary.collect(FIGURES, reports)
        self.assertEqual(errors, [])
        self.assertEqual(values, {"raw_rtt_us": 50.0, "ctx_rtt_us": 75.0})
        self.assertEqual(summary.derive(values, RATIOS),
                         {"ctx_rtt_ratio": 1.5})

    def test_missing_binary_drops_its_figures_and_ratios(self):
        reports = {
            "bench/a": ({"benchmarks": [
                run("BM_Rtt/real_time", rtt_us=50.0)]}, None),
            "bench/b": (None, "bench/b is not in the runfiles"),
        }
        values, errors = summary.collect(FIGURES, reports)
        self.assertEqual(values, {"raw_rtt_us": 50.0})
        self.assertEqual(len(errors), 1)
        self.assertIn("ctx_rtt_us", errors[0])
        self.assertEqual(summary.derive(values, RATIOS), {})
        line = summary.json_line(values, {})
        self.assertEqual(json.loads(line), {"raw_rtt_us": 50.0})

    def test_repetitions_give_the_median_and_skip_aggregates(self):
        report = {"benchmarks": [
            run("BM_Rtt/real_time", rtt_us=10.0),
            run("BM_Rtt/real_time", rtt_us=30.0),
            run("BM_Rtt/real_time", rtt_us=20.0),
            dict(run("BM_Rtt/real_time_mean", rtt_us=99.0),
                 run_name="BM_Rtt/real_time", run_type="aggregate"),
        ]}
        self.assertEqual(summary.extract(report, "BM_Rtt", "rtt_us"),
                         (20.0, None))

    def test_failed_unknown_and_ambiguous_benchmarks_are_errors(self):
        report = {"benchmarks": [
            run("BM_Rtt/real_time", error_occurred=True,
                error_message="no server"),
            run("BM_Two/1/real_time", rtt_us=1.0),
            run("BM_Two/2/real_time", rtt_us=2.0),
            run("BM_RttLonger/real_time", rtt_us=3.0),
        ]}
        value, error = summary.extract(report, "BM_Rtt", "rtt_us")
        self.assertIsNone(value)
        self.assertIn("no server", error)
        self.assertIn("did not run",
                      summary.extract(report, "BM_None", "rtt_us")[1])
        self.assertIn("ambiguous",
                      summary.extract(report, "BM_Two", "rtt_us")[1])
        self.assertEqual(summary.extract(report, "BM_Two/2", "rtt_us"),
                         (2.0, None))
        self.assertIn("no counter",
                      summary.extract(report, "BM_RttLonger", "nope")[1])

    def test_filter_selects_whole_names_only(self):
        self.assertEqual(summary.benchmark_filter(["BM_B", "BM_A", "BM_B"]),
                         "^(BM_A|BM_B)(/|$)")


class SummaryRunTest(unittest.TestCase):

    def test_real_run_ends_with_every_figure_and_ratio(self):
        wrapper = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "summary")
        done = subprocess.run([wrapper, "--min_time=0.01"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120, check=False)
        stdout = done.stdout.decode()
        self.assertEqual(done.returncode, 0, stdout + done.stderr.decode())
        last = json.loads(stdout.strip().splitlines()[-1])
        for key in ([figure.key for figure in summary.FIGURES] +
                    [ratio.key for ratio in summary.RATIOS]):
            self.assertIn(key, last)
            self.assertGreater(last[key], 0, key)
        self.assertIn("raw_rtt_us", stdout.splitlines()[1])


if __name__ == "__main__":
    unittest.main()
