#!/usr/bin/python3
"""A stand-in for `grpcurl` that knows nothing but server reflection.

grpcurl is neither packaged by Debian nor published on npm, so the
documentation test (grpcurl_doc_test.py) runs the commands of
docs/grpcurl.md with this program in its place when no real grpcurl is on
PATH. It sends exactly the requests grpcurl would and prints the same
shapes of output, for the subset of grpcurl those commands use:

    grpcurl -plaintext [-H 'NAME: VALUE']... ADDR list [SERVICE]
    grpcurl -plaintext [-H ...] ADDR describe SYMBOL  (services and messages)
    grpcurl -plaintext [-H ...] [-d DATA|-d @] ADDR SERVICE/METHOD

As with grpcurl, each -H header goes with every request, reflection's too
(the tree's token, docs/security.md).

Like grpcurl it learns every type from grpc.reflection.v1alpha (no .proto
files, no generated tether code): FileDescriptorProtos from the server are
loaded into a private descriptor pool, message classes come from
message_factory, and JSON is converted with json_format (lowerCamelCase
names, enums by name, 64-bit integers as strings). Responses are printed as
indented JSON, one object per message; a non-OK status prints grpcurl's
"ERROR:" block (code, message, details) on stderr and exits with 64 plus
the status code. Request messages from `-d @` are read from stdin and sent
one by one as they are parsed; end of input half-closes the stream.

Only reflection's own messages are compiled (from Debian's grpc-proto
package, into a temporary directory), because a client needs them to ask
anything at all.
"""

import importlib.util
import json
import os
import shutil
import sys
import tempfile

import grpc
import grpc_tools
from grpc_tools import protoc
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import json_format
from google.protobuf import message_factory

REFLECTION_PROTO_ROOT = "/usr/share/grpc-proto"
REFLECTION_PROTO = "grpc/reflection/v1alpha/reflection.proto"
REFLECTION_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
STATUS_CODE_OFFSET = 64  # grpcurl's exit code for a failed RPC: 64 + code.
RPC_TIMEOUT_S = 30.0

# grpc-go's names for status codes, as grpcurl prints them.
GO_CODE_NAMES = {
    "OK": "OK", "CANCELLED": "Canceled", "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded", "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists", "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition", "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange", "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal", "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss", "UNAUTHENTICATED": "Unauthenticated",
}


class UsageError(Exception):
    pass


def load_reflection_messages(out_dir):
    """Compiles reflection.proto (messages only) and imports it."""
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    status = protoc.main(["protoc", f"-I{REFLECTION_PROTO_ROOT}",
                          f"-I{well_known}", f"--python_out={out_dir}",
                          REFLECTION_PROTO])
    if status != 0:
        raise RuntimeError(f"protoc failed on {REFLECTION_PROTO}: {status}")
    path = os.path.join(out_dir, REFLECTION_PROTO.replace(".proto", "_pb2.py"))
    spec = importlib.util.spec_from_file_location("reflection_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Reflection:
    """Types known to the server, fetched on demand over reflection."""

    def __init__(self, channel, messages, metadata):
        self._messages = messages
        self._metadata = metadata
        self._call = channel.stream_stream(
            REFLECTION_METHOD,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=messages.ServerReflectionResponse.FromString)
        self.pool = descriptor_pool.DescriptorPool()
        self._added = set()
        self._factory = message_factory.MessageFactory(self.pool)

    def _ask(self, **request):
        """One request on its own reflection stream; returns the response."""
        message = self._messages.ServerReflectionRequest(**request)
        responses = list(self._call(iter([message]), timeout=RPC_TIMEOUT_S,
                                    metadata=self._metadata))
        response = responses[0]
        if response.HasField("error_response"):
            raise LookupError(response.error_response.error_message)
        return response

    def services(self):
        response = self._ask(list_services="*")
        return sorted(s.name for s in response.list_services_response.service)

    def _add_files(self, serialized_files):
        """Adds files, fetching dependencies the server did not include;
        every file goes in after the files it imports."""
        files = {}
        for blob in serialized_files:
            proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
            files[proto.name] = proto

        def add(name):
            if name in self._added:
                return
            if name not in files:
                response = self._ask(file_by_filename=name)
                for blob in response.file_descriptor_response.file_descriptor_proto:
                    proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
                    files.setdefault(proto.name, proto)
            for dependency in files[name].dependency:
                add(dependency)
            self.pool.Add(files[name])
            self._added.add(name)

        for name in list(files):
            add(name)

    def find(self, symbol):
        """The descriptor of a service, method or message, by full name."""
        response = self._ask(file_containing_symbol=symbol)
        self._add_files(response.file_descriptor_response.file_descriptor_proto)
        for finder in (self.pool.FindServiceByName,
                       self.pool.FindMessageTypeByName,
                       self.pool.FindMethodByName):
            try:
                return finder(symbol)
            except KeyError:
                continue
        raise LookupError(f"symbol not found: {symbol}")

    def message_class(self, descriptor):
        return self._factory.GetPrototype(descriptor)


def _rpc_line(method):
    def side(streaming, message):
        prefix = "stream " if streaming else ""
        return f"{prefix}.{message.full_name}"
    return (f"  rpc {method.name} ( "
            f"{side(method.client_streaming, method.input_type)} ) returns ( "
            f"{side(method.server_streaming, method.output_type)} );")


def describe(reflection, symbol):
    descriptor = reflection.find(symbol)
    if hasattr(descriptor, "methods"):
        print(f"{descriptor.full_name} is a service:")
        print(f"service {descriptor.name} {{")
        for method in descriptor.methods:
            print(_rpc_line(method))
        print("}")
        return
    if hasattr(descriptor, "fields"):
        print(f"{descriptor.full_name} is a message:")
        print(f"message {descriptor.name} {{")
        for field in descriptor.fields:
            label = "repeated " if field.label == field.LABEL_REPEATED else ""
            if field.message_type is not None:
                type_name = "." + field.message_type.full_name
            elif field.enum_type is not None:
                type_name = "." + field.enum_type.full_name
            else:
                type_name = _SCALAR_NAMES[field.type]
            print(f"  {label}{type_name} {field.name} = {field.number};")
        print("}")
        return
    raise UsageError(f"describe supports services and messages: {symbol}")


_SCALAR_NAMES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32",
    6: "fixed64", 7: "fixed32", 8: "bool", 9: "string", 12: "bytes",
    13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32",
    18: "sint64",
}


def json_objects(chunks):
    """Parses consecutive JSON values from an iterable of text chunks,
    yielding each as soon as it is complete (as grpcurl's decoder does)."""
    decoder = json.JSONDecoder()
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        while True:
            buffer = buffer.lstrip()
            if not buffer:
                break
            try:
                value, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                break  # Incomplete: wait for more input.
            yield value
            buffer = buffer[end:]
    if buffer.strip():
        raise UsageError(f"bad JSON input: {buffer.strip()[:80]!r}")


def stdin_chunks():
    while True:
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:
            return
        yield chunk.decode("utf-8")


def invoke(channel, reflection, symbol, data, metadata):
    service_name, _, method_name = symbol.replace("/", ".").rpartition(".")
    try:
        service = reflection.find(service_name)
    except grpc.RpcError as err:
        # grpcurl's words when reflection itself fails (exit 1).
        print(f'Error invoking method "{symbol}": failed to query for '
              f'service descriptor "{service_name}": rpc error: code = '
              f'{GO_CODE_NAMES[err.code().name]} desc = {err.details()}',
              file=sys.stderr, flush=True)
        return 1
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise UsageError(f"service {service_name} has no method {method_name}")
    request_class = reflection.message_class(method.input_type)
    response_class = reflection.message_class(method.output_type)
    pool = reflection.pool

    def requests():
        if data is None:
            yield request_class()
            return
        chunks = stdin_chunks() if data == "@" else [data]
        for obj in json_objects(chunks):
            yield json_format.Parse(json.dumps(obj), request_class(),
                                    descriptor_pool=pool)

    path = f"/{service.full_name}/{method.name}"
    kinds = {(False, False): channel.unary_unary,
             (False, True): channel.unary_stream,
             (True, False): channel.stream_unary,
             (True, True): channel.stream_stream}
    make = kinds[(method.client_streaming, method.server_streaming)]
    call = make(path, request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=response_class.FromString)
    request_iter = requests()
    argument = request_iter if method.client_streaming else next(request_iter)
    try:
        if method.server_streaming:
            responses = call(argument, metadata=metadata)
            for response in responses:
                print_message(response, pool)
            return 0
        print_message(call(argument, metadata=metadata), pool)
        return 0
    except grpc.RpcError as err:
        return print_status(err, reflection)


def print_message(message, pool):
    print(json_format.MessageToJson(message, indent=2, descriptor_pool=pool),
          flush=True)


def print_status(err, reflection):
    """grpcurl's ERROR block on stderr; returns grpcurl's exit code."""
    code = err.code()
    lines = ["ERROR:", f"  Code: {GO_CODE_NAMES[code.name]}",
             f"  Message: {err.details()}"]
    details = _status_details(err, reflection)
    if details:
        lines.append("  Details:")
        for number, text in enumerate(details, 1):
            prefix = f"  {number})"
            detail_lines = text.split("\n")
            lines.append(f"{prefix}\t{detail_lines[0]}")
            lines.extend(" " * len(prefix) + "\t" + l for l in detail_lines[1:])
    print("\n".join(lines), file=sys.stderr, flush=True)
    return STATUS_CODE_OFFSET + code.value[0]


def _status_details(err, reflection):
    """The status details as JSON, their types resolved through reflection
    (the server describes google.rpc.Status and tether.v1.ErrorInfo)."""
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        try:
            status_class = reflection.message_class(
                reflection.find("google.rpc.Status"))
        except LookupError:
            return []
        status = status_class.FromString(value)
        return [json_format.MessageToJson(d, indent=2,
                                          descriptor_pool=reflection.pool)
                for d in status.details]
    return []


def parse_args(argv):
    plaintext = False
    data = None
    headers = []
    positional = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-plaintext", "--plaintext"):
            plaintext = True
        elif arg in ("-d", "--d"):
            if not args:
                raise UsageError("-d needs a value")
            data = args.pop(0)
        elif arg in ("-H", "--H"):
            if not args:
                raise UsageError("-H needs a value")
            name, colon, value = args.pop(0).partition(":")
            if not colon:
                raise UsageError("-H takes 'NAME: VALUE'")
            headers.append((name.strip().lower(), value.strip()))
        elif arg.startswith("-"):
            raise UsageError(f"unsupported flag {arg} (this stand-in knows "
                             "-plaintext, -H and -d)")
        else:
            positional.append(arg)
    if not plaintext:
        raise UsageError("only -plaintext connections are supported")
    if len(positional) < 2:
        raise UsageError("usage: grpcurl -plaintext [-d DATA] ADDR "
                         "list|describe|METHOD [SYMBOL]")
    return data, headers, positional


def main(argv):
    try:
        data, headers, positional = parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    address, verb, rest = positional[0], positional[1], positional[2:]
    out_dir = tempfile.mkdtemp(prefix="grpcurl-standin-")
    try:
        messages = load_reflection_messages(out_dir)
        with grpc.insecure_channel(
                address, options=[("grpc.enable_http_proxy", 0)]) as channel:
            reflection = Reflection(channel, messages, headers)
            if verb == "list":
                if rest:
                    service = reflection.find(rest[0])
                    for method in service.methods:
                        print(f"{service.full_name}.{method.name}")
                else:
                    for name in reflection.services():
                        print(name)
                return 0
            if verb == "describe":
                if len(rest) != 1:
                    raise UsageError("describe takes one symbol")
                describe(reflection, rest[0])
                return 0
            if rest:
                raise UsageError("too many arguments")
            return invoke(channel, reflection, verb, data, headers)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    except (LookupError, grpc.RpcError) as err:
        print(f"Failed: {err}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
