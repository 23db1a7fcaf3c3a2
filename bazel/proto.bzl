"""C++ code generation for the project's .proto files with Debian's protoc.

Bazel 4's native proto rules want to build protoc from source; this macro
runs the installed `protoc` and `grpc_cpp_plugin` instead, which keeps the
build offline and the generated code matched to the installed runtime.

Each macro makes two libraries: NAME holds the messages (*.pb.h, needs
only protobuf), and NAME with its "_proto" suffix turned into "_grpc" holds
the services (*.grpc.pb.h, needs grpcpp): code that only handles messages,
such as the runtime, never sees gRPC.
"""

def cc_grpc_proto_library(name, srcs, proto_root, visibility = None):
    """Generates messages and gRPC stubs for `srcs`.

    Args:
      name: the messages' cc_library, ending in "_proto".
      srcs: .proto files, as paths relative to this package.
      proto_root: directory (relative to this package) that import paths are
        resolved against; generated headers are included the same way, e.g.
        "tether/v1/frame.pb.h".
      visibility: of both libraries.
    """
    root = native.package_name() + ("/" + proto_root if proto_root != "." else "")
    prefix = proto_root + "/" if proto_root != "." else ""
    _generate(
        name = name,
        srcs = srcs,
        stems = [src[len(prefix):-len(".proto")] for src in srcs],
        import_dir = root,
        files = "$(SRCS)",
        out_dir = root,
        proto_root = proto_root,
        visibility = visibility,
    )

def cc_grpc_system_proto_library(name, srcs, system_root, visibility = None):
    """Generates messages and gRPC stubs for .proto files the system ships.

    Args:
      name: the messages' cc_library, ending in "_proto".
      srcs: .proto files, as paths relative to `system_root`; headers are
        included the same way, e.g. "grpc/health/v1/health.pb.h".
      system_root: absolute directory the files and their imports are in,
        installed by tools/setup.sh.
      visibility: of both libraries.
    """
    _generate(
        name = name,
        srcs = [],
        stems = [src[:-len(".proto")] for src in srcs],
        import_dir = system_root,
        files = " ".join([system_root + "/" + src for src in srcs]),
        out_dir = native.package_name(),
        proto_root = ".",
        visibility = visibility,
    )

def _generate(name, srcs, stems, import_dir, files, out_dir, proto_root, visibility):
    if not name.endswith("_proto"):
        fail("a proto library's name ends in _proto: " + name)
    prefix = proto_root + "/" if proto_root != "." else ""
    message_hdrs = [prefix + stem + ".pb.h" for stem in stems]
    message_srcs = [prefix + stem + ".pb.cc" for stem in stems]
    service_hdrs = [prefix + stem + ".grpc.pb.h" for stem in stems]
    service_srcs = [prefix + stem + ".grpc.pb.cc" for stem in stems]

    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = message_hdrs + message_srcs + service_hdrs + service_srcs,
        tools = ["@system//:protoc", "@system//:grpc_cpp_plugin"],
        cmd = " ".join([
            "$(location @system//:protoc)",
            "-I" + import_dir,
            "-I/usr/include",
            "--cpp_out=$(GENDIR)/" + out_dir,
            "--grpc_out=$(GENDIR)/" + out_dir,
            "--plugin=protoc-gen-grpc=$(location @system//:grpc_cpp_plugin)",
            files,
        ]),
    )

    native.cc_library(
        name = name,
        srcs = message_srcs,
        hdrs = message_hdrs,
        includes = [proto_root],
        deps = ["@system//:protobuf"],
        visibility = visibility,
    )

    native.cc_library(
        name = name[:-len("_proto")] + "_grpc",
        srcs = service_srcs,
        hdrs = service_hdrs,
        includes = [proto_root],
        deps = [
            ":" + name,
            "@system//:grpcpp",
            "@system//:protobuf",
        ],
        visibility = visibility,
    )
