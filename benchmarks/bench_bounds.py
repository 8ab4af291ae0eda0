"""The cost of bounded decoding (issue 14.4) on normal chunks: zarrlayer's decode against the codec's own.

    python benchmarks/bench_bounds.py [--quick] [--runs N]

For each codec a 1 MiB float32 chunk of smooth data is encoded, then decoded (a) by the
numcodecs codec directly, without a bound, and (b) by zarrlayer's pipeline, which stops at
the chunk size. The target is no slowdown: (b) within 1.05x of (a).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CaseResult, Contestant, add_common_args, format_table, print_flush, resolve_runs, run_case, save_results  # noqa: E402

__all__ = ["main"]

NAME = "bounds"


def _chunk(quick: bool) -> np.ndarray:
    n = 16384 if quick else 262144
    x = np.arange(n, dtype="f4")
    return np.round(np.sin(x * np.float32(0.001)) * 10 + (x % 7) / 10, 2).astype("<f4")


def _zstd_without_size(chunk: np.ndarray) -> bytes:
    """A frame as streaming encoders write it (no content size): numcodecs' frame with the size field dropped."""
    from numcodecs import Zstd

    frame = bytearray(Zstd(level=1).encode(chunk))
    fhd = frame[4]
    fcs_flag, single = fhd >> 6, (fhd >> 5) & 1
    width = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if single:
        return bytes(frame)  # cannot drop the size of a single-segment frame; measure it as is
    pos = 6 + (0, 1, 2, 4)[fhd & 3]
    frame[4] = fhd & 0x3F
    del frame[pos : pos + width]
    return bytes(frame)


def main(argv: list[str] | None = None) -> int:
    """Time each codec both ways, interleaved; print and save."""
    import bz2
    import lzma

    from numcodecs import BZ2, GZip, LZ4, LZMA, Zlib, Zstd

    from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
    from zarrlayer.format.codecs.registry import codec_from_numcodecs
    from zarrlayer.format.codecs.serializers import BytesCodec

    args = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    runs, warmup = resolve_runs(args)
    runs = max(runs, 5) if not args.quick else runs
    chunk = _chunk(args.quick)
    cases = {
        "gzip": (GZip(level=5), None),
        "zlib": (Zlib(level=5), None),
        "zstd (frame without content size)": (Zstd(level=1), _zstd_without_size(chunk)),
        "bz2": (BZ2(level=5), bz2.compress(chunk.tobytes(), 5)),
        "lzma": (LZMA(), lzma.compress(chunk.tobytes())),
        "lz4": (LZ4(), None),
    }
    results: list[CaseResult] = []
    for label, (codec, encoded) in cases.items():
        data = encoded if encoded is not None else codec.encode(chunk)
        pipeline = ChunkCodecPipeline([], BytesCodec("little"), [codec_from_numcodecs(codec)], shape=chunk.shape, dtype=chunk.dtype)
        if not np.array_equal(pipeline.decode(data, chunk.shape), chunk) or bytes(codec.decode(data)) != chunk.tobytes():
            raise AssertionError(f"{label}: decoded values differ")
        contestants = [
            Contestant("zarrlayer (bounded)", lambda p=pipeline, d=data: p.decode(d, chunk.shape)),
            Contestant("numcodecs (unbounded)", lambda c=codec, d=data: c.decode(d)),
        ]
        result = run_case(NAME, f"{label}, {chunk.nbytes // 1024} KiB chunk", contestants, runs=runs * 3, warmup=warmup,
                          subject="zarrlayer (bounded)", peer="numcodecs (unbounded)", target=1 / 1.05)
        results.append(result)
        print_flush(f"  {result.case}: bounded {result.median('zarrlayer (bounded)') * 1e3:.2f} ms, "
                    f"unbounded {result.median('numcodecs (unbounded)') * 1e3:.2f} ms")
    print_flush(format_table(results))
    print_flush(f"results: {save_results(NAME, results, directory=args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
