#!/usr/bin/python3
"""Counts test cases from Bazel build-event files and prints the verdict.

Usage: test_summary.py --targets FILE [--extra NAME=CODE ...]
                       [--label NAME ...] BEP_JSON...

FILE lists every test target that should have run, one label a line (from
`bazel query 'tests(//...)'`). Each BEP_JSON is a file written by
`bazel test --build_event_json_file=` for one configuration. A target counts
each case in its test.xml (gtest writes one per TEST; Bazel writes one for a
script test). A target with no verdict in a file (it failed to build, or the
run was cut short) counts as one failure. --extra adds a check run outside
Bazel, passing when CODE is 0. The last line printed is `N passed, N failed`.
"""

import argparse
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ElementTree


def count_cases(xml_path):
    """Returns (passed, failed) case counts from a JUnit-style test.xml."""
    try:
        root = ElementTree.parse(xml_path).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    passed = failed = 0
    for case in root.iter("testcase"):
        if case.get("status") == "notrun":
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    return passed, failed


def read_verdicts(path):
    """Returns {label: (overall status, [test.xml paths])} from one file."""
    statuses = {}
    xmls = {}
    with open(path, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            ident = event.get("id", {})
            if "testSummary" in ident:
                statuses[ident["testSummary"]["label"]] = event.get(
                    "testSummary", {}).get("overallStatus", "NO_STATUS")
            elif "testResult" in ident:
                outputs = event.get("testResult", {}).get("testActionOutput", [])
                for output in outputs:
                    if output.get("name") == "test.xml":
                        uri = output.get("uri", "").replace("file://", "", 1)
                        xmls.setdefault(ident["testResult"]["label"], []).append(
                            urllib.parse.unquote(uri))
    return {label: (status, xmls.get(label, []))
            for label, status in statuses.items()}


def target_counts(status, xml_paths):
    """Returns (passed, failed) for one target's verdict."""
    counts = [count_cases(path) for path in xml_paths]
    if status in ("PASSED", "FAILED", "FLAKY") and counts and None not in counts:
        passed = sum(c[0] for c in counts)
        failed = sum(c[1] for c in counts)
        if status == "FAILED" and failed == 0:
            failed = 1
        if status != "FAILED" and passed + failed > 0:
            return passed, failed
        if status == "FAILED":
            return passed, failed
    return (1, 0) if status in ("PASSED", "FLAKY") else (0, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", required=True)
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("--label", action="append", default=[])
    parser.add_argument("bep", nargs="+")
    args = parser.parse_args()

    with open(args.targets, encoding="utf-8") as listing:
        targets = [line.strip() for line in listing if line.strip()]
    passed = failed = 0
    for index, path in enumerate(args.bep):
        config = args.label[index] if index < len(args.label) else path
        try:
            verdicts = read_verdicts(path)
        except OSError:
            verdicts = {}
        for label in targets:
            status, xml_paths = verdicts.get(label, ("NO_STATUS", []))
            ok, bad = target_counts(status, xml_paths)
            passed += ok
            failed += bad
            if bad:
                print(f"FAILED [{config}] {label}: {status}")
    for extra in args.extra:
        check, _, code = extra.partition("=")
        if code == "0":
            passed += 1
        else:
            failed += 1
            print(f"FAILED [check] {check}: exit {code}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
