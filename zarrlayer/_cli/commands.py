"""The handlers behind each `zarrlayer` sub-command; each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zarrlayer._cli._format import human_bytes
from zarrlayer._cli.inspect import format_rows, info_text, ls_rows, open_node, tree_text
from zarrlayer._cli.options import parse_storage_options
from zarrlayer.errors import ZarrlayerError, missing_dependency

if TYPE_CHECKING:
    from zarrlayer.storage.resolve import AccessMode

__all__ = ["open_store", "run_info", "run_tree", "run_ls", "run_copy", "run_cache", "run_demo"]


def _print(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")


def run_info(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zarrlayer info URL`: group.info or array.info."""
    _print(info_text(open_node(args.url, args.path, options), complete=args.complete))
    return 0


def run_tree(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zarrlayer tree URL`: the hierarchy as a tree."""
    _print(tree_text(open_node(args.url, args.path, options)))
    return 0


def run_ls(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zarrlayer ls URL`: every member with its shape, dtype and chunks."""
    _print(format_rows(ls_rows(open_node(args.url, args.path, options))))
    return 0


def open_store(url: str, *, mode: AccessMode, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    """`(store, path)` for `url` (directory, .zip, memory://, s3://, http(s)://...), opened in `mode`."""
    from zarrlayer.storage.resolve import make_store_path

    store_path = make_store_path(url, mode=mode, storage_options=dict(storage_options) or None)
    return store_path.store, store_path.path


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _local_path(url: str) -> Path | None:
    if "://" not in url:
        return Path(url).expanduser().absolute()
    if url.startswith("file://"):
        return Path(url[len("file://"):]).absolute()
    return None


def _progress_callback(args: argparse.Namespace) -> tuple[Callable[[int], None] | None, Any]:
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    if not show:
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        if args.progress:
            raise missing_dependency("tqdm", "all", "the copy progress bar (--progress)") from None
        return None, None

    bar = tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc="copy", file=sys.stderr)
    return bar.update, bar


def _remove_created(path: Path | None, existed: bool) -> None:
    """Remove a local destination that this command created, after a failed copy."""
    if path is None or existed or not path.exists():
        return
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def run_copy(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zarrlayer copy SRC DST`: raw keys, metadata last; a failed copy removes what it wrote."""
    from zarrlayer import config

    dst_options = getattr(args, "dst_options", None)
    if dst_options is None:
        dst_options = parse_storage_options(args.dst_storage_option, args.dst_storage_options_file)
    concurrency = args.concurrency or config.get().max_concurrency
    src, src_base = open_store(args.src, mode="r", storage_options=options)
    dst_path = _local_path(args.dst)
    existed = dst_path is not None and dst_path.exists()
    dst, dst_base = open_store(args.dst, mode="a", storage_options=dst_options)
    prefixes = (_join(src_base, args.src_path), _join(dst_base, args.dst_path))
    on_copied, bar = _progress_callback(args)
    try:
        result = _run_to_completion(_copy_and_close(src, dst, prefixes, args.overwrite, concurrency, on_copied))
    except BaseException:
        _remove_created(dst_path, existed)
        raise
    finally:
        if bar is not None:
            bar.close()
    _print(f"copied {result.keys} keys ({human_bytes(result.nbytes)}) from {src.url} to {dst.url}")
    return 0


def _run_to_completion(coro: Any) -> Any:
    """`sync(coro)`, except that Ctrl-C cancels the copy and waits for its clean-up before raising."""
    import asyncio
    import threading

    from zarrlayer.core.sync import get_loop

    finished = threading.Event()

    async def runner() -> Any:
        try:
            return await coro
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(runner(), get_loop())
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        finished.wait(timeout=120)
        raise


async def _copy_and_close(
    src: Any, dst: Any, prefixes: tuple[str, str], overwrite: bool, concurrency: int, on_copied: Any
) -> Any:
    from zarrlayer._cli.copy import copy_store

    try:
        return await copy_store(
            src, dst, src_prefix=prefixes[0], dst_prefix=prefixes[1],
            overwrite=overwrite, concurrency=concurrency, on_copied=on_copied, transient_ok=False,
        )
    finally:
        for store in (dst, src):
            closed = store.close()  # a plain call now; awaited where a store still returns a coroutine
            if closed is not None:
                await closed


def run_cache(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zarrlayer cache stats|clear [--dir DIR]`: the disk cache's size and counters, or empty it."""
    from zarrlayer._cli.cache import cache_clear, cache_stats

    if args.action == "stats":
        _print(cache_stats(args.dir))
    else:
        _print(cache_clear(args.dir))
    return 0


def run_demo(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """`zarrlayer demo`: the end-to-end demo (see zarrlayer.demo)."""
    from zarrlayer.demo import run_demo as demo

    result = demo(directory=args.dir, quick=args.quick, latency_ms=args.latency_ms, out=sys.stdout)
    if not result.ok:
        raise ZarrlayerError(f"the demo's results differ from the values it wrote (max error {result.max_error:.3g})")
    return 0

