#!/usr/bin/python3
"""Checks that Tether's layers depend on each other one way only.

Usage: tools/check_layers.py [--bazel=bazel]

Run from the workspace root. Reads every rule's direct deps, srcs and hdrs
from `bazel query`, and every source file's #include lines, and fails
(exit 1, one line per violation) when:

  - a target depends on a layer above its own, or server/ and client/
    depend on each other (docs/architecture.md has the picture):

        testing, proto  <-  runtime  <-  rpc  <-  server | client  <-  app
                        <-  tether  <-  actorctl, tests, bench

    examples/ and docs/ depend on //tether alone (and on their own
    package and the system libraries);
  - anything under runtime/ reaches gRPC: @system//:grpcpp, a generated
    *_grpc library, or a grpc header, directly or through its deps;
  - a file includes a header of a layer it may not depend on;
  - a public header (tether/*.h) includes anything but public headers,
    generated messages, abseil, protobuf and the standard library.

Bazel's visibility (bazel/BUILD) turns most of these into build errors;
this check covers the whole graph at once, includes that a system path
would satisfy, and the transitive gRPC rule.
"""

import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

# Rank of each layer; a target may depend on lower ranks and on its own
# layer. server and client share a rank but not a layer.
LAYERS = {
    "testing": 0,
    "proto": 0,
    "runtime": 1,
    "rpc": 2,
    "server": 3,
    "client": 3,
    "app": 4,
    "tether": 5,
    "actorctl": 6,
    "tests": 6,
    "bench": 6,
    "examples": 7,
    "docs": 7,
}
# Layers that see only the public target (besides their own package).
PUBLIC_ONLY = {"examples", "docs"}
PUBLIC_TARGET = "//tether:tether"
GRPC_TARGETS = re.compile(r"^@system//:grpcpp|^//proto:\w+_grpc$")
GRPC_INCLUDE = re.compile(r'^#include [<"](grpc\+\+|grpcpp|grpc)/|\.grpc\.pb\.h"')
INCLUDE = re.compile(r'^#include "([^"]+)"')
PUBLIC_HEADER_INCLUDE = re.compile(
    r'^(tether/[a-z_]+\.h|tether/v1/[a-z_]+\.pb\.h|absl/.*|google/protobuf/.*)$')


def layer_of(label):
    """The layer of a workspace label, or None outside the workspace."""
    if not label.startswith("//"):
        return None
    return label[2:].split("/", 1)[0].split(":", 1)[0]


def package_of(label):
    return label.split(":", 1)[0]


def query_rules(bazel):
    """{label: {"deps": [...], "code": [...], "kind": str}} of every rule."""
    out = subprocess.run(
        [bazel, "query", "--noimplicit_deps", "kind(rule, //...)",
         "--output=xml"],
        check=True, capture_output=True, text=True).stdout
    rules = {}
    for rule in ElementTree.fromstring(out).iter("rule"):
        lists = {}
        for item in rule.findall("list"):
            lists[item.get("name")] = [
                label.get("value") for label in item.findall("label")]
        rules[rule.get("name")] = {
            "kind": rule.get("class"),
            "deps": lists.get("deps", []),
            "code": lists.get("srcs", []) + lists.get("hdrs", []),
        }
    return rules


def check_edges(rules, problems):
    edges = 0
    for label, rule in rules.items():
        source = layer_of(label)
        if source not in LAYERS:
            problems.append(f"{label}: package outside every layer "
                            "(add it to tools/check_layers.py)")
            continue
        for dep in rule["deps"]:
            target = layer_of(dep)
            if target is None:
                continue
            edges += 1
            if source in PUBLIC_ONLY:
                if dep != PUBLIC_TARGET and package_of(dep) != package_of(label):
                    problems.append(f"{label} -> {dep}: {source}/ uses only "
                                    f"{PUBLIC_TARGET}")
                continue
            if target not in LAYERS:
                continue
            if {source, target} == {"server", "client"}:
                problems.append(f"{label} -> {dep}: server/ and client/ "
                                "never depend on each other")
            elif LAYERS[target] > LAYERS[source]:
                problems.append(f"{label} -> {dep}: {source}/ may not "
                                f"depend on {target}/")
    return edges


def check_runtime_grpc(rules, problems):
    """No runtime target reaches gRPC, directly or transitively."""
    reaches = {}

    def grpc_path(label, seen):
        if label in reaches:
            return reaches[label]
        if GRPC_TARGETS.match(label):
            return [label]
        rule = rules.get(label)
        if rule is None or label in seen:
            return None
        seen.add(label)
        for dep in rule["deps"]:
            path = grpc_path(dep, seen)
            if path is not None:
                reaches[label] = [label] + path
                return reaches[label]
        reaches[label] = None
        return None

    for label in rules:
        if layer_of(label) == "runtime":
            path = grpc_path(label, set())
            if path is not None:
                problems.append(f"{label} reaches gRPC: " + " -> ".join(path))


def source_files():
    out = subprocess.run(["git", "ls-files", "*.h", "*.cc"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def check_includes(problems):
    files = 0
    for path in source_files():
        source = path.split("/", 1)[0]
        if source not in LAYERS:
            continue
        files += 1
        with open(path, encoding="utf-8") as text:
            lines = text.read().splitlines()
        for number, line in enumerate(lines, 1):
            where = f"{path}:{number}"
            if source == "runtime" and GRPC_INCLUDE.search(line):
                problems.append(f"{where}: runtime/ includes gRPC: {line}")
            match = INCLUDE.match(line)
            if match is None:
                continue
            header = match.group(1)
            if (source == "tether" and path.endswith(".h") and
                    not PUBLIC_HEADER_INCLUDE.match(header)):
                problems.append(f"{where}: a public header includes "
                                f"{header}")
            target = header.split("/", 1)[0]
            if target not in LAYERS or target == "tether":
                continue
            if source in PUBLIC_ONLY and target != source:
                problems.append(f"{where}: {source}/ includes {header}; "
                                "it uses only tether/ headers")
            elif {source, target} == {"server", "client"}:
                problems.append(f"{where}: {source}/ includes {header}")
            elif LAYERS[target] > LAYERS[source]:
                problems.append(f"{where}: {source}/ includes {header}")
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bazel", default="bazel")
    args = parser.parse_args()
    problems = []
    rules = query_rules(args.bazel)
    edges = check_edges(rules, problems)
    check_runtime_grpc(rules, problems)
    files = check_includes(problems)
    for problem in problems:
        print(problem)
    print(f"layers: {len(rules)} rules, {edges} dependencies, {files} files: "
          f"{len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
