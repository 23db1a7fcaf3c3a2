"""The tree token every Tether call carries (docs/security.md).

A tree of actors admits only calls whose `authorization` metadata is
`Bearer <token>`, the tree's 256-bit secret as 64 hex digits. This client
finds the token the way Tether's own tools do, so a user never types it:

  1. `token=` given: that (64 hex digits);
  2. `token_file=` given: the file's contents, if the file is this user's
     and group and others cannot read it (mode 0600);
  3. otherwise, the token of the root on this machine that serves at the
     address (`${XDG_RUNTIME_DIR:-/tmp}/tether-UID/roots/`, trusted only if
     this user owns the directory, mode 0700, and only while the process
     that wrote a record still runs).

    token = credentials.find_token("127.0.0.1:7000")
    channel = credentials.tree_channel("127.0.0.1:7000", token)

The token is never printed by this module: errors name files and addresses,
not contents.
"""

import os
import re
import stat

import grpc

_TOKEN = re.compile(r"^[0-9a-f]{64}$")


class CredentialsError(Exception):
    """No usable token: the message says which file or address, and why."""


class Unauthenticated(CredentialsError):
    """The actor refused a call: it did not carry the actor's tree's token
    (gRPC status UNAUTHENTICATED). Calling again with it will not help."""


def parse_token(text, where="the token"):
    """The token in `text` (64 lowercase hex digits, white space around it
    ignored). Raises CredentialsError naming `where`, never quoting it."""
    token = text.strip()
    if not _TOKEN.match(token):
        raise CredentialsError(
            f"{where} is not a tree token (64 lowercase hex digits)")
    return token


def _check_private(info, path, mode_hint):
    if info.st_uid != os.geteuid():
        raise CredentialsError(f"refusing {path}: it belongs to uid "
                               f"{info.st_uid}")
    if info.st_mode & 0o077:
        raise CredentialsError(
            f"refusing {path}: its mode is {info.st_mode & 0o7777:04o}; "
            f"group and others must have no access (chmod {mode_hint})")


def read_token_file(path):
    """The token in the file at `path`, a regular file of this user's that
    group and others cannot read. Raises CredentialsError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise CredentialsError(f"cannot read {path}: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialsError(f"refusing {path}: not a regular file")
        _check_private(info, path, "600")
        with os.fdopen(os.dup(fd), "r", encoding="ascii",
                       errors="replace") as file:
            text = file.read(4096)
    finally:
        os.close(fd)
    return parse_token(text, path)


def _state_directory():
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return os.path.join(base, f"tether-{os.geteuid()}")


def _process_start_time(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii",
                  errors="replace") as file:
            text = file.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields count from
    # the last ')'; starttime is the 22nd field of the file.
    fields = text[text.rfind(")") + 2:].split(" ")
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() \
        else None


def local_root_token(address):
    """The token of the live root on this machine whose registrar serves at
    `address`, or None when there is none. Raises CredentialsError when the
    state directory cannot be trusted."""
    roots = os.path.join(_state_directory(), "roots")
    for directory in (_state_directory(), roots):
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            raise CredentialsError(f"refusing {directory}: not a directory")
        _check_private(info, directory, "700")
    for name in sorted(os.listdir(roots)):
        if not name.isdigit():
            continue
        try:
            fields = read_record(os.path.join(roots, name))
        except CredentialsError:
            continue
        if len(fields) != 5 or fields[2] != address:
            continue
        if str(_process_start_time(int(name))) != fields[3]:
            continue  # The root is gone, or its pid is another process's.
        try:
            return parse_token(fields[4])
        except CredentialsError:
            continue
    return None


def read_record(path):
    """The fields of a local-roots record, checked as a token file is."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise CredentialsError(f"cannot read {path}: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialsError(f"refusing {path}: not a regular file")
        _check_private(info, path, "600")
        with os.fdopen(os.dup(fd), "r", encoding="ascii",
                       errors="replace") as file:
            return file.read(4096).split()
    finally:
        os.close(fd)


def find_token(address, *, token=None, token_file=None):
    """The token for calls to `address`: `token`, else `token_file`'s,
    else the local root's at `address` (see the module's doc). Raises
    CredentialsError when none is found."""
    if token is not None:
        return parse_token(token)
    if token_file is not None:
        return read_token_file(token_file)
    found = local_root_token(address)
    if found is None:
        raise CredentialsError(
            f"no token for {address}: no root of this user's on this "
            "machine serves there; pass token_file= (the file the tree was "
            "started with, or `actorctl token` > FILE; docs/security.md)")
    return found


class _Authorization(grpc.UnaryUnaryClientInterceptor,
                     grpc.UnaryStreamClientInterceptor,
                     grpc.StreamUnaryClientInterceptor,
                     grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call."""

    def __init__(self, token):
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details):
        return _Details(details, list(details.metadata or []) + [self._header])

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)


class _Details(grpc.ClientCallDetails):
    """ClientCallDetails with other metadata (gRPC's own type is opaque)."""

    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


def tree_channel(address, token, options=()):
    """A channel to `address` whose calls carry `token`."""
    channel = grpc.insecure_channel(address, options=list(options))
    return grpc.intercept_channel(channel, _Authorization(token))
