"""The `zarrlayer` command line: info, tree, ls, copy, cache and the demo.

Every command returns an exit code: 0 on success, 1 on an error (one line on stderr,
`--debug` for the traceback), 2 on a usage error. Secrets in storage options or URLs
are never printed.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]

_PROG = "zarrlayer"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{_PROG}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _at_least(minimum: float, kind: type) -> Any:
    """An argparse `type` that parses `kind` and refuses values below `minimum` (a usage error)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, found {text}")
        return value

    return parse


def _common(store_options: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    if store_options:
        parent.add_argument("--storage-option", "-o", action="append", default=[], metavar="KEY=VALUE",
                            help="an option for the store (repeatable; VALUE is parsed as JSON when it can be)")
        parent.add_argument("--storage-options-file", metavar="FILE.json",
                            help="a JSON object of store options (--storage-option wins on conflicts)")
    return parent


def _add_inspect_commands(sub: Any) -> None:
    for name, text in (
        ("info", "what group.info / array.info show for a node"),
        ("tree", "the hierarchy under a group, as a tree"),
        ("ls", "every member of a group with its shape, dtype and chunks"),
    ):
        cmd = sub.add_parser(name, parents=[_common()], help=text, description=text)
        cmd.add_argument("url", help="a store: directory, .zip file, s3://..., http(s)://..., memory://...")
        cmd.add_argument("--path", default="", help="the node inside the store (default: its root)")
        if name == "info":
            cmd.add_argument("--complete", action="store_true",
                             help="what info_complete() shows: member counts, stored bytes (lists the store)")


def _add_copy_command(sub: Any) -> None:
    cmd = sub.add_parser(
        "copy", parents=[_common()], help="copy a hierarchy from any store to any store",
        description="Copy raw keys (chunks first, metadata last); a failed copy leaves nothing behind.",
    )
    cmd.add_argument("src", help="the source store")
    cmd.add_argument("dst", help="the destination store (a .zip path makes a zip file)")
    cmd.add_argument("--src-path", default="", help="copy only this node of the source")
    cmd.add_argument("--dst-path", default="", help="where to put it in the destination")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing destination node")
    cmd.add_argument("--concurrency", type=_at_least(1, int), default=None,
                     help="keys copied at once (default: zarrlayer.config max_concurrency)")
    cmd.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a progress bar (default: when stderr is a terminal)")
    cmd.add_argument("--dst-storage-option", action="append", default=[], metavar="KEY=VALUE",
                     help="an option for the destination store (--storage-option is for the source)")
    cmd.add_argument("--dst-storage-options-file", metavar="FILE.json",
                     help="a JSON object of options for the destination store")


def _add_cache_command(sub: Any) -> None:
    cmd = sub.add_parser("cache", parents=[_common(False)], help="inspect or clear the disk cache")
    cmd.add_argument("action", choices=("stats", "clear"))
    cmd.add_argument("--dir", default=None, help="the cache directory (default: zarrlayer's user cache)")


def _add_demo_command(sub: Any) -> None:
    cmd = sub.add_parser(
        "demo", parents=[_common(False)], help="the end-to-end demo: write, serve, open with xarray, compute",
        description="Write a synthetic climate dataset, serve it over loopback HTTP with latency, "
        "open it with xarray + dask through zarrlayer's caches, and report timings and traffic.",
    )
    cmd.add_argument("--dir", default=None, help="where to write the dataset and cache (default: a temp dir)")
    cmd.add_argument("--quick", action="store_true", help="a tiny dataset (seconds; for tests)")
    cmd.add_argument("--latency-ms", type=_at_least(0, float), default=None, help="added latency per HTTP request")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `zarrlayer` command."""
    from zarrlayer import __version__

    parser = _Parser(prog=_PROG, description="zarrlayer: inspect, copy and cache Zarr hierarchies.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", default=False, help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_inspect_commands(sub)
    _add_copy_command(sub)
    _add_cache_command(sub)
    _add_demo_command(sub)
    return parser


def _dispatch(args: argparse.Namespace, options: dict[str, Any]) -> int:
    from zarrlayer._cli import commands

    handler = getattr(commands, f"run_{args.command}")
    return handler(args, options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit code."""
    from zarrlayer._cli.options import parse_storage_options, redact

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    options: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    try:
        if hasattr(args, "storage_option"):
            options = parse_storage_options(args.storage_option, args.storage_options_file)
            secrets["source"] = options
        if hasattr(args, "dst_storage_option"):
            args.dst_options = parse_storage_options(args.dst_storage_option, args.dst_storage_options_file)
            secrets["destination"] = args.dst_options
        return _dispatch(args, options)
    except KeyboardInterrupt:
        sys.stderr.write(f"{_PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - every error becomes one line (or a traceback with --debug)
        if args.debug:
            sys.stderr.write(redact("".join(traceback.format_exception(exc)), secrets))
        message = str(exc) if _is_ours(exc) else f"{type(exc).__name__}: {exc}"
        notes = " ".join(getattr(exc, "__notes__", ()))
        line = " ".join(f"{message} {notes}".split())
        sys.stderr.write(f"{_PROG}: error: {redact(line, secrets)}\n")
        return 1


def _is_ours(exc: BaseException) -> bool:
    from zarrlayer.errors import ZarrlayerError

    return isinstance(exc, ZarrlayerError)
