"""Array: a chunked N-dimensional array in a store, read and written with numpy-style indexing."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np

from zarrlayer.core.engine import read_plan, write_plan
from zarrlayer.core.indexing import (
    ChunkPlan,
    basic_plan,
    is_basic_selection,
    orthogonal_plan,
    plan_for_getitem,
    vectorized_plan,
)
from zarrlayer.core.info import ArrayInfo
from zarrlayer.core.io import ArrayLocation, delete_keys, fetch
from zarrlayer.core.node import Node
from zarrlayer.core.nodes import write_metadata
from zarrlayer.core.sync import sync
from zarrlayer.format import ArrayMetadata
from zarrlayer.storage._base import Store

__all__ = ["Array"]

_MISSING = 2**64 - 1
_SERIALIZERS = {"bytes", "vlen-utf8", "vlen-bytes", "sharding_indexed"}
_DOCUMENTS = {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"}


class Array(Node[ArrayMetadata]):
    """A Zarr array at `path` in `store`; reads return numpy arrays, writes take array-likes."""

    _kind = "array"

    def __init__(self, store: Store, path: str, metadata: ArrayMetadata) -> None:
        super().__init__(store, path, metadata)
        self._loc = ArrayLocation(store, self._path)

    # -- identity and metadata -------------------------------------------------------

    def __dask_tokenize__(self) -> tuple[object, ...]:
        """dask's deterministic name: store identity, path and metadata (cheap; no data read, no pickling)."""
        document = json.dumps(self._metadata.to_json(), sort_keys=True, default=str)
        return ("zarrlayer-array", self._store.__dask_tokenize__(), self._path, document)

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._metadata.shape

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the values handed out (v3 strings: object with str items)."""
        return self._metadata.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        """The read chunk shape (the inner chunk shape when sharded)."""
        return self._metadata.chunks

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shard shape, or None when not sharded."""
        return self._metadata.shards

    @property
    def fill_value(self) -> Any:
        """The value missing chunks read as."""
        return self._metadata.fill_value

    @property
    def order(self) -> str:
        """The memory order of stored chunks ('C', or 'F' for some v2 arrays)."""
        return self._metadata.order

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of the whole array in memory (size times item size)."""
        return self.size * self.dtype.itemsize

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Number of (inner) chunks along each dimension."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks))

    @property
    def nchunks(self) -> int:
        """Number of (inner) chunks in the array."""
        return math.prod(self.cdata_shape)

    @property
    def filters(self) -> tuple[Any, ...]:
        """The array-to-array codecs (numcodecs objects for v2, JSON dicts for v3)."""
        return self._codec_groups()[0]

    @property
    def serializer(self) -> Any:
        """The array-to-bytes codec of a v3 array (None for v2)."""
        return self._codec_groups()[1]

    @property
    def compressors(self) -> tuple[Any, ...]:
        """The bytes-to-bytes codecs (numcodecs objects for v2, JSON dicts for v3)."""
        return self._codec_groups()[2]

    def _codec_groups(self) -> tuple[tuple[Any, ...], Any, tuple[Any, ...]]:
        cached = self.__dict__.get("_codec_cache")
        if cached is not None and cached[0] is self._metadata:
            return cached[1]
        groups = self._split_codecs()
        self._codec_cache = (self._metadata, groups)
        return groups

    def _split_codecs(self) -> tuple[tuple[Any, ...], Any, tuple[Any, ...]]:
        doc = self._metadata.to_json()
        if self._metadata.zarr_format == 2:
            import numcodecs

            filters = tuple(numcodecs.get_codec(dict(f)) for f in doc.get("filters") or ())
            compressor = doc.get("compressor")
            return filters, None, ((numcodecs.get_codec(dict(compressor)),) if compressor else ())
        codecs = list(doc.get("codecs") or ())
        at = next((i for i, c in enumerate(codecs) if c.get("name") in _SERIALIZERS), len(codecs))
        serializer = codecs[at] if at < len(codecs) else None
        return tuple(codecs[:at]), serializer, tuple(codecs[at + 1 :])

    def __repr__(self) -> str:
        return f"<Array {self._where()} shape={self.shape} dtype={self.dtype}>"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    # -- reading and writing -----------------------------------------------------------

    def _read(self, plan: ChunkPlan) -> np.ndarray:
        return read_plan(self._loc, self._metadata, plan)

    def _write(self, plan_of: Any, selection: Any, value: Any) -> None:
        self._check_writable()
        plan = plan_of(selection, self.shape, self.chunks)
        write_plan(self._loc, self._metadata, plan, value)

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._read(plan_for_getitem(selection, self.shape, self.chunks))

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._write(plan_for_getitem, selection, value)

    def get_basic_selection(self, selection: Any = Ellipsis) -> np.ndarray:
        """Read ints, slices and Ellipsis."""
        if not is_basic_selection(selection):
            raise IndexError(f"expected ints, slices or Ellipsis for a basic selection, found {selection!r}")
        return self._read(basic_plan(selection, self.shape, self.chunks))

    def set_basic_selection(self, selection: Any, value: Any) -> None:
        """Write ints, slices and Ellipsis."""
        if not is_basic_selection(selection):
            raise IndexError(f"expected ints, slices or Ellipsis for a basic selection, found {selection!r}")
        self._write(basic_plan, selection, value)

    def get_orthogonal_selection(self, selection: Any) -> np.ndarray:
        """Read an outer product selection: per axis an int, slice, int array or boolean mask."""
        return self._read(orthogonal_plan(selection, self.shape, self.chunks))

    def set_orthogonal_selection(self, selection: Any, value: Any) -> None:
        """Write an outer product selection."""
        self._write(orthogonal_plan, selection, value)

    def get_coordinate_selection(self, selection: Any) -> np.ndarray:
        """Read points: one int array per axis, broadcast together."""
        return self._read(vectorized_plan(selection, self.shape, self.chunks))

    def set_coordinate_selection(self, selection: Any, value: Any) -> None:
        """Write points."""
        self._write(vectorized_plan, selection, value)

    get_mask_selection = get_coordinate_selection
    set_mask_selection = set_coordinate_selection

    @property
    def oindex(self) -> _OIndex:
        """Orthogonal indexing: `a.oindex[[0, 2], mask]`."""
        return _OIndex(self)

    @property
    def vindex(self) -> _VIndex:
        """Point (vectorised) indexing: `a.vindex[[0, 2], [1, 3]]` or `a.vindex[mask]`."""
        return _VIndex(self)

    # -- shape changes -------------------------------------------------------------------

    def resize(self, *new_shape: Any) -> None:
        """Change the shape; stored units wholly outside the new shape are deleted."""
        shape = _parse_shape(new_shape[0] if len(new_shape) == 1 else new_shape, self.ndim)
        self._check_writable()
        old_grid = self._metadata.grid_shape
        metadata = self._metadata.evolve(shape=shape)
        new_grid = metadata.grid_shape
        write_metadata(self._store, self._path, metadata)
        self._metadata = metadata
        stale = [
            self._loc.prefix + metadata.chunk_key(coords)
            for coords in itertools.product(*(range(n) for n in old_grid))
            if any(c >= n for c, n in zip(coords, new_grid))
        ]
        delete_keys(self._store, stale)

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Grow the array along `axis` and write `data` there; returns the new shape."""
        data = np.asarray(data)
        if data.ndim != self.ndim:
            raise ValueError(f"expected data with {self.ndim} dimensions to append, found {data.ndim}")
        axis = axis + self.ndim if axis < 0 else axis
        if not 0 <= axis < self.ndim:
            raise ValueError(f"axis {axis} is out of range for an array of {self.ndim} dimensions")
        others = [s for i, s in enumerate(self.shape) if i != axis]
        if [s for i, s in enumerate(data.shape) if i != axis] != others:
            raise ValueError(
                f"expected data of shape {self.shape} except along axis {axis}, found {data.shape}"
            )
        old = self.shape[axis]
        self.resize(tuple(s + data.shape[axis] if i == axis else s for i, s in enumerate(self.shape)))
        region = tuple(slice(old, None) if i == axis else slice(None) for i in range(self.ndim))
        self[region] = data
        return self.shape

    # -- info ------------------------------------------------------------------------------

    def _info(self, **extra: Any) -> ArrayInfo:
        return ArrayInfo(
            zarr_format=self._metadata.zarr_format,
            data_type=str(self.dtype),
            fill_value=self.fill_value,
            shape=self.shape,
            chunk_shape=self.chunks,
            shard_shape=self.shards,
            order=self.order,
            read_only=self.read_only,
            store_type=type(self._store).__name__,
            filters=self.filters,
            serializer=self.serializer,
            compressors=self.compressors,
            count_bytes=self.nbytes,
            **extra,
        )

    @property
    def info(self) -> ArrayInfo:
        """A printable summary (no I/O)."""
        return self._info()

    def info_complete(self) -> ArrayInfo:
        """The summary plus bytes stored, storage ratio and initialized chunks (lists the store)."""
        return self._info(
            count_bytes_stored=self.nbytes_stored(), count_chunks_initialized=self.nchunks_initialized
        )

    def _stored_keys(self) -> list[str]:
        """Keys of the stored units (chunks or shards): everything under the array but its documents."""
        prefix = self._loc.prefix

        async def _collect() -> list[str]:
            return [k async for k in self._store.list_prefix(prefix)]

        return [k for k in sync(_collect()) if k[len(prefix) :] not in _DOCUMENTS]

    def nbytes_stored(self) -> int:
        """Bytes the array occupies in the store (chunks and metadata)."""
        return sync(self._store.getsize_prefix(self._loc.prefix))

    @property
    def nchunks_initialized(self) -> int:
        """Number of (inner) chunks present in the store."""
        keys = self._stored_keys()
        sharding = self._metadata.sharding
        if sharding is None:
            return len(keys)
        shard_shape = self._metadata.chunk_grid_shape
        request = sharding.index_request(shard_shape)
        total = 0
        for data in fetch(self._store, [(k, request) for k in keys]):
            if data is not None:
                index = sharding.decode_index(data, shard_shape)
                total += int((index[..., 0] != _MISSING).sum())
        return total


class _OIndex:
    __slots__ = ("_array",)

    def __init__(self, array: Array) -> None:
        self._array = array

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._array.get_orthogonal_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_orthogonal_selection(selection, value)


class _VIndex:
    __slots__ = ("_array",)

    def __init__(self, array: Array) -> None:
        self._array = array

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._array.get_coordinate_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_coordinate_selection(selection, value)


def _parse_shape(shape: Any, ndim: int | None = None) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        parsed = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(f"expected a shape (a tuple of non-negative ints), found {shape!r}") from None
    if any(s < 0 for s in parsed):
        raise ValueError(f"expected non-negative dimension lengths, found {parsed}")
    if ndim is not None and len(parsed) != ndim:
        raise ValueError(f"expected a shape with {ndim} dimensions, found {parsed}")
    return parsed
