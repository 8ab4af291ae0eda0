"""Array: a chunked N-dimensional array in a store, read and written with numpy-style indexing."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np

from zarrlayer.core.engine import read_plan, write_plan
from zarrlayer.core.getitem import parse_getitem
from zarrlayer.core.indexing import (
    ChunkPlan,
    basic_plan,
    block_to_basic,
    orthogonal_plan,
    vectorized_plan,
)
from zarrlayer.core.info import ArrayInfo
from zarrlayer.core.io import ArrayLocation, delete_keys, fetch
from zarrlayer.core.node import Node
from zarrlayer.core.nodes import publish_metadata, write_metadata
from zarrlayer.core.selection import (
    PLANS,
    BlockIndex,
    OIndex,
    VIndex,
    broadcast_value,
    check_basic,
    coerce_value,
    deliver,
    field_key,
    mask_only,
    pick_fields,
    pop_fields,
)
from zarrlayer.core.sync import sync
from zarrlayer.errors import ArgumentError, ArgumentTypeError, ShapeError
from zarrlayer.format import ArrayMetadata
from zarrlayer.storage._base import Store

__all__ = ["Array", "publish_shapes"]

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
    def compressor(self) -> Any:
        """The v2 array's compressor (a numcodecs object, or None); TypeError for v3 as in zarr-python."""
        if self._metadata.zarr_format != 2:
            raise ArgumentTypeError("`compressor` is not available for Zarr format 3 arrays; use `compressors`")
        compressors = self.compressors
        return compressors[0] if compressors else None

    @property
    def store_path(self) -> Any:
        """The store and this array's path in it (a StorePath)."""
        from zarrlayer.storage.resolve import StorePath

        return StorePath(self._store, self._path)

    @property
    def read_chunk_sizes(self) -> tuple[tuple[int, ...], ...]:
        """Per axis, the length of each read chunk (inner chunks when sharded), the last one clipped to the shape."""
        return _chunk_sizes(self.shape, self.chunks)

    @property
    def write_chunk_sizes(self) -> tuple[tuple[int, ...], ...]:
        """Per axis, the length of each stored unit (shards when sharded), the last one clipped to the shape."""
        return _chunk_sizes(self.shape, self.shards or self.chunks)

    @classmethod
    def open(cls, store: Any, *, config: Any = None) -> Array:
        """The existing array at `store` (a store-like or StorePath); NodeNotFoundError when there is none.

        `config` is zarr-python's array config, checked as the create functions check it.
        """
        from zarrlayer.core.create import array_config
        from zarrlayer.core.nodes import load_node

        array_config(config, None)
        from zarrlayer.errors import ContainsGroupError
        from zarrlayer.storage.resolve import make_store_path

        store_path = make_store_path(store, mode="r" if getattr(store, "read_only", False) is True else "r+")
        metadata = load_node(store_path.store, store_path.path)
        if not isinstance(metadata, ArrayMetadata):
            raise ContainsGroupError(
                f"expected an array at path '{store_path.path}' in store {store_path.store.url}, found a group"
            )
        return cls(store_path.store, store_path.path, metadata)

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

    def __eq__(self, other: object) -> bool:
        """Handles of one array (same store, path and metadata) compare equal, as in zarr-python."""
        if not isinstance(other, Array):
            return NotImplemented
        return self._store == other._store and self._path == other._path and self._metadata == other._metadata

    def __hash__(self) -> int:
        try:
            return hash((self._path, self._store))
        except TypeError:
            return hash((self._path, type(self._store).__name__))

    def __len__(self) -> int:
        if not self.shape:
            raise ArgumentTypeError("len() of a 0-d array")
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    # -- reading and writing -----------------------------------------------------------

    def _read(self, plan: ChunkPlan) -> np.ndarray:
        return read_plan(self._loc, self._metadata, plan)

    def _write(self, plan_of: Any, selection: Any, value: Any) -> None:
        self._check_writable()
        self._write_plan(plan_of(selection, self.shape, self.chunks), value)

    def _write_plan(self, plan: ChunkPlan, value: Any) -> None:
        """Write `value` over `plan` once it is known to fit: ShapeError (shape) or ArgumentError (dtype) before any I/O."""
        # bytes and str objects go straight into an object array: numpy's `S` dtype would drop trailing NULs
        vlen = self.dtype == object and not isinstance(value, np.ndarray)
        value = np.asarray(value, dtype=object) if vlen else np.asarray(value)
        if value.dtype != self.dtype:
            try:
                value = value.astype(self.dtype)
            except (ValueError, TypeError) as exc:
                raise ArgumentError(
                    f"cannot store values of dtype {value.dtype} in array {self._where()} of dtype {self.dtype}: {exc}"
                ) from None
        extra = value.ndim - len(plan.out_shape)
        if extra > 0 and value.shape[:extra] == (1,) * extra:
            value = value.reshape(value.shape[extra:])  # numpy drops leading length-1 axes of a value
        shape = value.shape
        if shape and shape != plan.out_shape:
            try:
                fits = np.broadcast_shapes(shape, plan.out_shape) == plan.out_shape
            except ValueError:
                fits = False
            if not fits:
                raise ShapeError(
                    f"cannot assign a value of shape {shape} to a selection of shape {plan.out_shape} "
                    f"in array {self._where()}"
                )
        write_plan(self._loc, self._metadata, plan, value)

    def _get(self, plan_of: Any, selection: Any, out: Any, fields: Any) -> Any:
        """Read a selection; `fields` picks fields of a structured dtype; `out` receives the result."""
        return deliver(pick_fields(self._read(plan_of(selection, self.shape, self.chunks)), fields), out)

    def _set(self, plan_of: Any, selection: Any, value: Any, fields: Any) -> None:
        if fields is not None:
            current = self._read(plan_of(selection, self.shape, self.chunks)).copy()
            current[field_key(fields)] = self._coerce(value, current[field_key(fields)].dtype)
            value = current
        self._write(plan_of, selection, self._coerce(value, self.dtype))

    def _coerce(self, value: Any, dtype: np.dtype[Any]) -> Any:
        return coerce_value(value, dtype, f"array {self._where()}")

    def __getitem__(self, selection: Any) -> Any:
        sel, fields = pop_fields(selection)
        parsed = parse_getitem(sel, self.shape)
        if parsed.kind == "mixed":
            block = self._read(orthogonal_plan(parsed.selection, self.shape, self.chunks))
        else:
            block = self._read(PLANS[parsed.kind](parsed.selection, self.shape, self.chunks))
        result = block if parsed.post is None else block[parsed.post]
        return _scalar_of_0d(pick_fields(result, fields), self.shape)

    def __setitem__(self, selection: Any, value: Any) -> None:
        sel, fields = pop_fields(selection)
        parsed = parse_getitem(sel, self.shape)
        if fields is not None:
            current = np.array(self[sel], copy=True)
            current[field_key(fields)] = self._coerce(value, current[field_key(fields)].dtype)
            value = current
        value = self._coerce(value, self.dtype)
        if parsed.kind == "mixed":
            self._check_writable()
            plan = orthogonal_plan(parsed.selection, self.shape, self.chunks)
            block = self._read(plan)
            try:
                block[parsed.post] = value
            except ValueError as exc:
                raise ShapeError(f"cannot assign this value to the selection in array {self._where()}: {exc}") from None
            self._write_plan(plan, block)
            return
        if parsed.post is not None:
            self._check_writable()
            plan = basic_plan(parsed.selection, self.shape, self.chunks)
            target = np.empty(plan.out_shape, dtype=bool)[parsed.post].shape
            value = broadcast_value(value, target).reshape(plan.out_shape)
            self._write_plan(plan, value)
            return
        self._write(PLANS[parsed.kind], parsed.selection, value)

    def get_basic_selection(
        self, selection: Any = Ellipsis, *, out: Any = None, prototype: Any = None, fields: Any = None
    ) -> Any:
        """Read ints, slices and Ellipsis; `out` (an ndarray of the result's shape) receives the values."""
        check_basic(selection)
        return _scalar_of_0d(self._get(basic_plan, selection, out, fields), self.shape if out is None else (0,))

    def set_basic_selection(self, selection: Any, value: Any, *, fields: Any = None, prototype: Any = None) -> None:
        """Write ints, slices and Ellipsis."""
        check_basic(selection)
        self._set(basic_plan, selection, value, fields)

    def get_orthogonal_selection(
        self, selection: Any, *, out: Any = None, fields: Any = None, prototype: Any = None
    ) -> Any:
        """Read an outer product selection: per axis an int, slice, int array or boolean mask."""
        return self._get(orthogonal_plan, selection, out, fields)

    def set_orthogonal_selection(
        self, selection: Any, value: Any, *, fields: Any = None, prototype: Any = None
    ) -> None:
        """Write an outer product selection."""
        self._set(orthogonal_plan, selection, value, fields)

    def get_coordinate_selection(
        self, selection: Any, *, out: Any = None, fields: Any = None, prototype: Any = None
    ) -> Any:
        """Read points: one int array per axis, broadcast together (the result has their shape)."""
        return self._get(vectorized_plan, selection, out, fields)

    def set_coordinate_selection(
        self, selection: Any, value: Any, *, fields: Any = None, prototype: Any = None
    ) -> None:
        """Write points."""
        self._set(vectorized_plan, selection, value, fields)

    def get_mask_selection(self, mask: Any, *, out: Any = None, fields: Any = None, prototype: Any = None) -> Any:
        """Read the elements where `mask` (a boolean array of the array's shape) is True, as a 1-d array."""
        return self._get(vectorized_plan, mask_only(mask, self.shape), out, fields)

    def set_mask_selection(self, mask: Any, value: Any, *, fields: Any = None, prototype: Any = None) -> None:
        """Write the elements where `mask` is True."""
        self._set(vectorized_plan, mask_only(mask, self.shape), value, fields)

    def get_block_selection(
        self, selection: Any, *, out: Any = None, fields: Any = None, prototype: Any = None
    ) -> Any:
        """Read whole storage blocks (chunks, or shards when sharded) by block index: ints or step-1 slices."""
        return self._get(basic_plan, block_to_basic(selection, self.shape, self._block_shape()), out, fields)

    def set_block_selection(self, selection: Any, value: Any, *, fields: Any = None, prototype: Any = None) -> None:
        """Write whole storage blocks by block index."""
        self._set(basic_plan, block_to_basic(selection, self.shape, self._block_shape()), value, fields)

    def _block_shape(self) -> tuple[int, ...]:
        return self.shards or self.chunks

    @property
    def oindex(self) -> OIndex:
        """Orthogonal indexing: `a.oindex[[0, 2], mask]`."""
        return OIndex(self)

    @property
    def vindex(self) -> VIndex:
        """Point (vectorised) indexing: `a.vindex[[0, 2], [1, 3]]` or `a.vindex[mask]`."""
        return VIndex(self)

    @property
    def blocks(self) -> BlockIndex:
        """Block indexing: `a.blocks[0, 1:3]` reads storage blocks (shards when sharded), as zarr-python."""
        return BlockIndex(self)

    # -- shape changes -------------------------------------------------------------------

    def resize(self, new_shape: Any, *more: int) -> None:
        """Change the shape (`resize((20, 30))` or `resize(20, 30)`); stored units wholly outside it are deleted."""
        shape = _parse_shape((new_shape, *more) if more else new_shape, self.ndim)
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

    def staged(self, new_shape: Any) -> Array:
        """A handle that reads and writes this array as if its shape were `new_shape`, writing no metadata.

        Data written through it beyond the stored shape stays invisible to readers until
        `publish_shapes` makes the new shape the stored one (several arrays at once).
        """
        shape = _parse_shape(new_shape, self.ndim)
        self._check_writable()
        return type(self)(self._store, self._path, self._metadata.evolve(shape=shape))

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Grow the array along `axis` and write `data` there; returns the new shape.

        Python lists convert as numpy 2 converts them: a value the dtype cannot hold raises
        ValueRangeError (an OverflowError) before the array grows.
        """
        data = np.asarray(self._coerce(data, self.dtype))
        if data.ndim != self.ndim:
            raise ShapeError(f"expected data with {self.ndim} dimensions to append, found {data.ndim}")
        axis = axis + self.ndim if axis < 0 else axis
        if not 0 <= axis < self.ndim:
            raise ShapeError(f"axis {axis} is out of range for an array of {self.ndim} dimensions")
        others = [s for i, s in enumerate(self.shape) if i != axis]
        if [s for i, s in enumerate(data.shape) if i != axis] != others:
            raise ShapeError(
                f"expected data of shape {self.shape} except along axis {axis}, found {data.shape}"
            )
        old = self.shape[axis]
        self.resize(tuple(s + data.shape[axis] if i == axis else s for i, s in enumerate(self.shape)))
        region = tuple(slice(old, None) if i == axis else slice(None) for i in range(self.ndim))
        self[region] = data
        return self.shape

    # -- info ------------------------------------------------------------------------------

    def _info(self, **extra: Any) -> ArrayInfo:
        filters, serializer, compressors = self._info_codecs()
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
            filters=filters,
            serializer=serializer,
            compressors=compressors,
            count_bytes=self.nbytes,
            **extra,
        )

    def _info_codecs(self) -> tuple[tuple[Any, ...], Any, tuple[Any, ...]]:
        """The codecs `info` shows: for a sharded array those inside the shard, as zarr-python's info does."""
        filters, serializer, compressors = self._codec_groups()
        if not (isinstance(serializer, dict) and serializer.get("name") == "sharding_indexed"):
            return filters, serializer, compressors
        inner = list((serializer.get("configuration") or {}).get("codecs") or ())
        at = next((i for i, c in enumerate(inner) if c.get("name") in _SERIALIZERS), len(inner))
        return (*filters, *inner[:at]), (inner[at] if at < len(inner) else None), tuple(inner[at + 1 :])

    @property
    def info(self) -> ArrayInfo:
        """A printable summary (no I/O)."""
        return self._info()

    def info_complete(self) -> ArrayInfo:
        """The summary plus bytes stored, storage ratio and initialized chunks (lists the store)."""
        shards = len(self._stored_keys()) if self._metadata.sharding is not None else None
        return self._info(
            count_bytes_stored=self.nbytes_stored(), count_chunks_initialized=self.nchunks_initialized,
            count_shards_initialized=shards,
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


def publish_shapes(arrays: Any) -> None:
    """Store the shapes of `arrays` (handles from `Array.staged`, one store) as one change for consolidated readers.

    Each consolidated document recording them is rewritten once, before the arrays' own
    documents: a consolidated reader sees all old or all new shapes after a crash at any moment.
    Growing only: no stored unit is deleted.
    """
    by_store: dict[int, tuple[Store, list[tuple[str, Any]]]] = {}
    for array in arrays:
        by_store.setdefault(id(array._store), (array._store, []))[1].append((array._path, array._metadata))
    for store, nodes in by_store.values():
        publish_metadata(store, nodes)


def _chunk_sizes(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(
        tuple(min(c, n - start) for start in range(0, n, c)) if n else () for n, c in zip(shape, chunks)
    )


def _parse_shape(shape: Any, ndim: int | None = None) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        parsed = tuple(int(s) for s in shape)
    except TypeError:
        raise ShapeError(f"expected a shape (a tuple of non-negative ints), found {shape!r}") from None
    if any(s < 0 for s in parsed):
        raise ShapeError(f"expected non-negative dimension lengths, found {parsed}")
    if ndim is not None and len(parsed) != ndim:
        raise ShapeError(f"expected a shape with {ndim} dimensions, found {parsed}")
    return parsed


def _scalar_of_0d(result: Any, shape: tuple[int, ...]) -> Any:
    """A 0-d array's basic selection (`a[()]`, `a[...]`) as a numpy scalar, as numpy's `[()]` and zarr-python give."""
    if not shape and isinstance(result, np.ndarray) and result.ndim == 0:
        return result[()]
    return result
