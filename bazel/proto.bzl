"""C++ code generation for the project's .proto files with Debian's protoc.

Bazel 4's native proto rules want to build protoc from source; this macro
runs the installed `protoc` and `grpc_cpp_plugin` instead, which keeps the
build offline and the generated code matched to the installed runtime.
"""

def cc_grpc_proto_library(name, srcs, proto_root, visibility = None):
    """Generates messages and gRPC stubs for `srcs` into one cc_library.

    Args:
      name: the cc_library.
      srcs: .proto files, as paths relative to this package.
      proto_root: directory (relative to this package) that import paths are
        resolved against; generated headers are included the same way, e.g.
        "tether/v1/frame.pb.h".
      visibility: of the cc_library.
    """
    root = native.package_name() + ("/" + proto_root if proto_root != "." else "")
    prefix = proto_root + "/" if proto_root != "." else ""
    stems = [src[len(prefix):-len(".proto")] for src in srcs]
    hdrs = []
    cc_srcs = []
    for stem in stems:
        hdrs += [prefix + stem + ".pb.h", prefix + stem + ".grpc.pb.h"]
        cc_srcs += [prefix + stem + ".pb.cc", prefix + stem + ".grpc.pb.cc"]

    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = hdrs + cc_srcs,
        tools = ["@system//:protoc", "@system//:grpc_cpp_plugin"],
        cmd = " ".join([
            "$(location @system//:protoc)",
            "-I" + root,
            "-I/usr/include",
            "--cpp_out=$(GENDIR)/" + root,
            "--grpc_out=$(GENDIR)/" + root,
            "--plugin=protoc-gen-grpc=$(location @system//:grpc_cpp_plugin)",
            "$(SRCS)",
        ]),
    )

    native.cc_library(
        name = name,
        srcs = cc_srcs,
        hdrs = hdrs,
        includes = [proto_root],
        deps = ["@system//:grpcpp", "@system//:protobuf"],
        visibility = visibility,
    )
