"""Write regions and their alignment to storage units, shared by the xarray writer and the dask entry points."""

from __future__ import annotations

from collections.abc import Sequence

from zarrlayer.errors import ZarrlayerError

__all__ = [
    "InvalidWriteError",
    "UnalignedWriteError",
    "UnknownVariableError",
    "check_aligned_chunks",
    "check_aligned_region",
    "normalize_region",
    "storage_unit",
]


class InvalidWriteError(ZarrlayerError, ValueError, TypeError):
    """Arguments of a write that cannot be honoured (region, mode, dimensions, dtype); nothing is written.

    A ValueError, and a TypeError too where an argument has the wrong type, as xarray raises.
    """


class UnknownVariableError(InvalidWriteError, KeyError):
    """A write refers to a name or coordinate value that is not there (an `encoding` entry for a variable
    not in the dataset, a `region="auto"` coordinate value not in the store); also a KeyError, as xarray."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnalignedWriteError(InvalidWriteError):
    """Parallel writes whose pieces would share a stored chunk (or shard) and race on it."""


def storage_unit(array: object) -> tuple[int, ...]:
    """The shape of one stored object: the shard shape when sharded, else the chunk shape."""
    shards = getattr(array, "shards", None)
    return tuple(shards) if shards else tuple(array.chunks)  # type: ignore[attr-defined]


def normalize_region(region: Sequence[slice] | None, shape: Sequence[int], where: str) -> tuple[slice, ...]:
    """`region` as one step-1 slice with concrete bounds per dimension, checked against `shape`."""
    if region is None:
        return tuple(slice(0, n) for n in shape)
    region = tuple(region)
    if len(region) != len(shape):
        raise InvalidWriteError(f"{where}: expected a region of {len(shape)} slices, found {len(region)}")
    out = []
    for s, n in zip(region, shape, strict=True):
        if not isinstance(s, slice):
            raise InvalidWriteError(f"{where}: region entries must be slices, found {s!r}")
        start, stop, step = s.indices(n)
        if step != 1 or (s.start is not None and s.start > n) or (s.stop is not None and s.stop > n):
            raise InvalidWriteError(f"{where}: region {s} does not fit a dimension of length {n} with step 1")
        out.append(slice(start, max(start, stop)))
    return tuple(out)


def check_aligned_chunks(
    chunks: Sequence[Sequence[int]],
    region: Sequence[slice],
    unit: Sequence[int],
    shape: Sequence[int],
    where: str,
) -> None:
    """Refuse dask `chunks` written at `region` when two of them would touch the same storage unit.

    Every boundary between two pieces must fall on a multiple of the unit; the first and
    last piece may be partial only at the array's own edges or when they are the only piece
    in their unit.
    """
    for axis, (sizes, sl, u, n) in enumerate(zip(chunks, region, unit, shape, strict=True)):
        position = sl.start
        for size in list(sizes)[:-1]:
            position += size
            if position % u and position != n:
                raise UnalignedWriteError(
                    f"{where}: along axis {axis} a piece boundary falls at index {position}, inside a "
                    f"stored chunk of {u} (array length {n}); two parallel writers would race on that "
                    f"chunk. Rechunk to multiples of {u} aligned with the region start "
                    f"({sl.start}), or write a region that starts and ends on chunk boundaries."
                )


def check_aligned_region(region: Sequence[slice], unit: Sequence[int], shape: Sequence[int], where: str) -> None:
    """Refuse a region that starts or ends inside a storage unit (another writer may share that unit)."""
    for axis, (sl, u, n) in enumerate(zip(region, unit, shape, strict=True)):
        if sl.start % u or (sl.stop % u and sl.stop != n):
            raise UnalignedWriteError(
                f"{where}: region {sl.start}:{sl.stop} along axis {axis} is not aligned to the stored "
                f"chunk size {u} (array length {n}); a write there would read, merge and rewrite chunks "
                f"that other writers may share. Use a region whose bounds are multiples of {u} "
                f"(or the array end)."
            )
