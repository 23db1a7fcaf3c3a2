"""Macros for the project's BUILD files.

    load("//bazel:tether.bzl", "tether_cc_library")

    tether_cc_library(
        name = "uuid",
        srcs = ["uuid.cc"],
        hdrs = ["uuid.h"],
        deps = ["@system//:absl"],
        tests = ["uuid_test"],
    )

A library and the unit tests beside it: each entry of `tests` is the path of
a test's source without ".cc" ("uuid_test", "internal/inbox_test"); its
cc_test, named after the file, is linked with the library, `test_deps` and
gtest_main.
"""

def tether_cc_library(
        name,
        tests = [],
        test_deps = [],
        test_size = "small",
        test_data = [],
        **kwargs):
    """A cc_library and its unit tests.

    Args:
      name: the cc_library.
      tests: test sources without ".cc", relative to the package.
      test_deps: what the tests need beyond the library and gtest_main.
      test_size: size of every test in `tests`.
      test_data: runfiles of every test in `tests`.
      **kwargs: the cc_library's own attributes.
    """
    native.cc_library(name = name, **kwargs)
    for test in tests:
        native.cc_test(
            name = test.split("/")[-1],
            size = test_size,
            srcs = [test + ".cc"],
            data = test_data,
            deps = [":" + name] + test_deps + ["@system//:gtest_main"],
        )
