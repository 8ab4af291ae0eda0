"""The xarray data store over a zarrlayer Group: variables, dimensions and attributes, read and written.

It follows xarray's own zarr engine (xarray/backends/zarr.py) so that both engines give
identical datasets: dimensions from `_ARRAY_DIMENSIONS` (v2) or `dimension_names` (v3),
fill values as xarray treats them, CF encoding with xarray's zarr coders.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Literal

import numpy as np
from xarray import conventions
from xarray.coding.variables import SerializationWarning
from xarray.backends.common import AbstractWritableDataStore, _encode_variable_name
from xarray.backends.zarr import (
    FillValueCoder,
    encode_zarr_attr_value,
    encode_zarr_variable,
    extract_zarr_variable_encoding,
)
from xarray.core import indexing
from xarray.core.utils import FrozenDict
from xarray.core.variable import Variable

from zarrlayer.errors import MetadataError, ModeError, NodeNotFoundError
from ._codec_objects import as_peer_codec, as_peer_codecs
from ._regions import (
    InvalidWriteError,
    check_aligned_chunks,
    check_aligned_region,
    storage_unit,
)
from ._xarray_array import CoordinatePrefetch, ZarrlayerBackendArray
from ._xarray_nodes import (
    array_codecs,
    create_child_array,
    is_array,
    is_group,
    members,
    put_attrs,
    resize_array,
    stage_growth,
    value_dtype,
    zarr_format_of,
)

__all__ = ["DIMENSION_KEY", "MissingDimensionsError", "ZarrlayerDataStore"]

DIMENSION_KEY = "_ARRAY_DIMENSIONS"


class MissingDimensionsError(MetadataError, KeyError):
    """An array without the dimension names xarray needs (`_ARRAY_DIMENSIONS` or `dimension_names`); also a
    KeyError, as xarray's engine raises."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _dims_and_attrs(array: Any, name: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    attrs = dict(array.attrs)
    if zarr_format_of(array) == 3:
        dims = getattr(array.metadata, "dimension_names", None)
        if dims is None and DIMENSION_KEY in attrs:
            dims = attrs.pop(DIMENSION_KEY)
        dims = tuple(dims or ())
        if len(dims) != len(array.shape):
            raise MissingDimensionsError(
                f"array {name!r} (Zarr v3, shape {tuple(array.shape)}) needs `dimension_names` "
                f"with one name per dimension for xarray to determine variable dimensions; found {dims!r}"
            )
        return dims, attrs
    if DIMENSION_KEY not in attrs:
        raise MissingDimensionsError(
            f"array {name!r} (Zarr v2) needs the attribute {DIMENSION_KEY!r} that names its "
            f"dimensions for xarray to determine variable dimensions; found attributes {sorted(attrs)}"
        )
    dims = tuple(attrs.pop(DIMENSION_KEY))
    if len(dims) != len(array.shape):
        raise MetadataError(
            f"array {name!r} has shape {tuple(array.shape)} but {DIMENSION_KEY} names {dims!r}"
        )
    return dims, {k: v for k, v in attrs.items() if not k.lower().startswith("_nc")}


class ZarrlayerDataStore(AbstractWritableDataStore):
    """One zarrlayer Group seen as an xarray data store (read, and write with modes w, w-, a, a-, r+)."""

    __slots__ = (
        "_align_chunks",
        "_append_dim",
        "_members",
        "_mode",
        "_prefetch",
        "_safe_chunks",
        "_use_fill_as_mask",
        "_write_empty",
        "_write_region",
        "group",
        "grown",
        "written",
    )

    def __init__(
        self,
        group: Any,
        *,
        mode: str = "r",
        use_zarr_fill_value_as_mask: bool | None = None,
        append_dim: Hashable | None = None,
        write_region: Mapping[str, slice] | None = None,
        safe_chunks: bool = True,
        align_chunks: bool = False,
        write_empty_chunks: bool | None = None,
    ) -> None:
        self.group = group
        self._write_empty = write_empty_chunks
        self.written: list[tuple[Any, tuple[slice, ...]]] = []
        self.grown: list[Any] = []
        self._safe_chunks = safe_chunks and not align_chunks
        self._align_chunks = align_chunks
        self._mode = mode
        if use_zarr_fill_value_as_mask is None:
            use_zarr_fill_value_as_mask = zarr_format_of(group) == 2
        self._use_fill_as_mask = bool(use_zarr_fill_value_as_mask)
        self._append_dim = append_dim
        self._write_region = write_region
        self._members = members(group)
        self._prefetch: CoordinatePrefetch | None = None

    def __getstate__(self) -> dict[str, Any]:
        """The group and options; the coordinate prefetch (a lock and cached values) is rebuilt on demand."""
        return {name: getattr(self, name) for name in self.__slots__ if name != "_prefetch"}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._prefetch = None

    @property
    def zarr_format(self) -> Literal[2, 3]:
        """The Zarr format of the group (2 or 3)."""
        return 2 if zarr_format_of(self.group) == 2 else 3

    # -- reading ---------------------------------------------------------------------

    def arrays(self) -> dict[str, Any]:
        """The arrays directly in the group, by name."""
        return {k: v for k, v in self._members.items() if is_array(v)}

    def subgroups(self) -> dict[str, Any]:
        """The groups directly in the group, by name."""
        return {k: v for k, v in self._members.items() if is_group(v)}

    def _coordinate_prefetch(self) -> CoordinatePrefetch:
        if self._prefetch is None:
            dim_coords = {}
            for name, array in self.arrays().items():
                if len(array.shape) == 1:
                    dims, _ = _dims_and_attrs(array, name)
                    if dims == (name,):
                        dim_coords[name] = array
            self._prefetch = CoordinatePrefetch(dim_coords)
        return self._prefetch

    def open_store_variable(self, name: str, array: Any | None = None) -> Variable:
        """The xarray Variable for array `name`: lazy data, attributes and encoding (as engine='zarr')."""
        array = self.arrays()[name] if array is None else array
        dims, attributes = _dims_and_attrs(array, name)
        dtype = value_dtype(array)
        wrapper = ZarrlayerBackendArray(array, dtype=dtype, name=name, prefetch=self._coordinate_prefetch())
        data = indexing.LazilyIndexedArray(wrapper)
        chunks = tuple(array.chunks)
        shards = getattr(array, "shards", None)
        encoding: dict[str, Any] = {
            "chunks": chunks,
            "preferred_chunks": dict(zip(dims, tuple(shards or chunks), strict=True)),
        }
        if dtype.kind == "T":
            encoding["dtype"] = dtype
        codecs = array_codecs(array)
        encoding.update(compressors=codecs["compressors"], filters=codecs["filters"], shards=shards)
        if self.zarr_format == 3:
            encoding.update(
                compressors=as_peer_codecs(encoding["compressors"]),
                filters=as_peer_codecs(encoding["filters"]),
                serializer=as_peer_codec(codecs["serializer"]),
            )
        fill_value = array.fill_value
        if self._use_fill_as_mask:
            if fill_value is not None:
                attributes["_FillValue"] = fill_value
        else:
            if self.zarr_format == 3:
                encoding["fill_value"] = fill_value
            if "_FillValue" in attributes:
                attributes["_FillValue"] = FillValueCoder.decode(attributes["_FillValue"], dtype)
        return Variable(dims, data, attributes, encoding)

    def get_variables(self) -> Mapping[str, Variable]:
        return FrozenDict((k, self.open_store_variable(k, a)) for k, a in self.arrays().items())

    def get_attrs(self) -> dict[str, Any]:
        return {k: v for k, v in dict(self.group.attrs).items() if not k.lower().startswith("_nc")}

    def get_dimensions(self) -> dict[str, int]:
        dimensions: dict[str, int] = {}
        for name, array in self.arrays().items():
            dims, _ = _dims_and_attrs(array, name)
            for dim, size in zip(dims, array.shape, strict=True):
                if dimensions.setdefault(dim, size) != size:
                    raise MetadataError(
                        f"dimension {dim!r} has length {dimensions[dim]} in one array and {size} "
                        f"in array {name!r} of group {self.group.path!r}"
                    )
        return dimensions

    def close(self) -> None:
        """Nothing to release: stores are closed with their owner."""

    # -- writing ---------------------------------------------------------------------

    def set_dimensions(self, variables: Any, unlimited_dims: Any = None) -> None:
        if unlimited_dims:
            raise InvalidWriteError("zarrlayer (like Zarr) has no unlimited dimensions; use append_dim instead")

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        put_attrs(self.group, dict(attributes))

    def encode_variable(self, variable: Variable, name: Hashable | None = None) -> Variable:
        return encode_zarr_variable(variable, name=name, zarr_format=self.zarr_format)

    def encode_attribute(self, a: Any) -> Any:
        return encode_zarr_attr_value(a)

    def store(
        self,
        variables: Mapping[Hashable, Variable],
        attributes: Mapping[str, Any],
        check_encoding_set: Iterable[Hashable] = frozenset(),
        writer: Any = None,
        unlimited_dims: Any = None,
    ) -> None:
        """Encode and write `variables` and `attributes` (xarray's `dump_to_store` calls this)."""
        existing = set() if self._mode == "w" else set(self.arrays())
        existing_names = {vn for vn in variables if _encode_variable_name(vn) in existing}
        new_names = [vn for vn in variables if vn not in existing_names]
        if self._mode == "r+" and new_names:
            raise ModeError(
                f"dataset contains non-pre-existing variables {new_names!r}: mode 'r+' only writes to "
                f"existing arrays "
                f"(group {self.group.path!r}); use mode='a' to add them"
            )
        if self._append_dim is not None and self._append_dim not in self.get_dimensions():
            raise InvalidWriteError(
                f"append_dim={self._append_dim!r} does not match any existing dataset dimensions "
                f"{sorted(self.get_dimensions())}"
            )
        self._check_append_complete(variables)
        encoded, attributes = self.encode({vn: variables[vn] for vn in new_names}, attributes)
        if existing_names:
            encoded.update(self._encode_like_existing(variables, existing_names))
        if self._mode == "a-" and self._append_dim is not None:
            encoded = {k: v for k, v in encoded.items() if k not in existing_names or self._append_dim in v.dims}
        plans = self._checked_plans(encoded, check_encoding_set)
        if self._mode not in ("r", "r+"):
            self.set_attributes(attributes)
        self._write(plans, writer)

    def _check_append_complete(self, variables: Mapping[Hashable, Variable]) -> None:
        """Refuse an append that leaves out a stored variable along `append_dim` (it would fall out of step)."""
        if self._append_dim is None or self._mode not in ("a", "a-"):
            return
        given = {_encode_variable_name(vn) for vn in variables}
        for name, array in self.arrays().items():
            dims, _ = _dims_and_attrs(array, name)
            if self._append_dim in dims and name not in given:
                raise InvalidWriteError(
                    f"variable {name!r} (group {self.group.path or '/'!r} of {self.group.store.url}) has "
                    f"dimension {self._append_dim!r} but is missing from the dataset to append; appending "
                    f"without it would leave it shorter than the others. Include it, or drop it first"
                )

    def _encode_like_existing(self, variables: Mapping[Hashable, Variable], names: set) -> dict:
        existing_vars, _, _ = conventions.decode_cf_variables(
            {k: self.open_store_variable(k) for k in names}, {}
        )
        like = {}
        for vn in names:
            _check_append_dtype(vn, existing_vars[vn], variables[vn])
            like[vn] = variables[vn].copy(deep=False)
            like[vn].encoding = existing_vars[vn].encoding
        with warnings.catch_warnings():
            warnings.simplefilter("error", SerializationWarning)
            warnings.filterwarnings("error", message=".*can't be serialized faithfully", category=UserWarning)
            encoded = {}
            for vn in names:
                try:
                    encoded.update(self.encode({vn: like[vn]}, {})[0])
                except (SerializationWarning, UserWarning) as warning:
                    raise InvalidWriteError(
                        f"variable {vn!r} cannot be encoded exactly like it is stored (units, dtype; group "
                        f"{self.group.path or '/'!r} of {self.group.store.url}): {warning}"
                    ) from None
        stored = {k: self.open_store_variable(k) for k in names}
        for vn in names:
            if existing_vars[vn].dtype.kind in "mM":
                _check_same_encoding(vn, encoded[vn], stored[_encode_variable_name(vn)])
            encoded[vn] = self._conform_dims(vn, encoded[vn], existing_vars[vn])
        return encoded

    def _conform_dims(self, name: Hashable, new: Variable, old: Variable) -> Variable:
        if new.dims != old.dims:
            if set(new.dims) != set(old.dims):
                raise InvalidWriteError(
                    f"variable {name!r} already exists with different dimension names {old.dims}; "
                    f"the dataset has {new.dims}"
                )
            new = new.transpose(*old.dims)
        region: Mapping[Any, slice] = self._write_region or {}
        old_sizes = {}
        for dim, size in old.sizes.items():
            if dim in region:
                start, stop, _ = region[dim].indices(size)
                size = stop - start
            if dim != self._append_dim:
                old_sizes[dim] = size
        new_sizes = {d: s for d, s in new.sizes.items() if d != self._append_dim}
        if old_sizes != new_sizes:
            raise InvalidWriteError(
                f"variable {name!r} already exists with different dimension sizes {old_sizes}; the "
                f"dataset has {new_sizes}; "
                f"only append_dim ({self._append_dim!r}) may change, use region= to write part of it"
            )
        return new

    def set_variables(
        self,
        variables: Mapping[Hashable, Variable],
        check_encoding_set: Any,
        writer: Any,
        unlimited_dims: Any = None,
    ) -> None:
        """Create (or resize) each array and hand its data to `writer` with the target region.

        Every variable is checked (encoding, chunk alignment) before anything is written.
        """
        self._write(self._checked_plans(variables, check_encoding_set), writer)

    def _checked_plans(self, variables: Mapping[Hashable, Variable], check_encoding_set: Any) -> list[dict]:
        existing = self.arrays() if self._mode != "w" else {}
        plans = [self._plan(vn, v, existing, vn in check_encoding_set) for vn, v in variables.items()]
        if self._safe_chunks:
            for plan in plans:
                _check_alignment(plan, partial_ends=self._mode != "r+")
        return plans

    def _write(self, plans: list[dict], writer: Any) -> None:
        for plan in plans:
            array = self._target(plan)
            region = tuple(plan["region"][d] for d in plan["var"].dims)
            writer.add(plan["var"].data, array, region)
            empty = plan["encoding"].get("write_empty_chunks")
            if empty if empty is not None else self._write_empty:
                self.written.append((array, region))

    def _plan(self, vn: Hashable, v: Variable, existing: Mapping[str, Any], check: bool) -> dict[str, Any]:
        name = _encode_variable_name(vn)
        attrs = v.attrs.copy()
        fill_value = self._pop_fill_value(name, v, attrs)
        try:
            encoding = extract_zarr_variable_encoding(
                v, raise_on_invalid=check, name=vn, zarr_format=self.zarr_format
            )
        except ValueError as err:
            raise InvalidWriteError(f"variable {name!r} (group {self.group.path or '/'!r}): {err}") from None
        region = dict.fromkeys(v.dims, slice(None))
        region.update({d: s for d, s in (self._write_region or {}).items() if d in v.dims})
        array = existing.get(name)
        shape = tuple(v.shape) if array is None else tuple(array.shape)
        if array is not None and self._append_dim is not None and self._append_dim in v.dims:
            axis = v.dims.index(self._append_dim)
            region[self._append_dim] = slice(shape[axis], None)
            shape = shape[:axis] + (shape[axis] + v.shape[axis],) + shape[axis + 1 :]
        if array is None and encoding.get("shards") == "auto":
            encoding.update(_auto_shards(v, encoding.get("chunks"), name))
        unit = storage_unit(array) if array is not None else encoding.get("shards") or encoding.get("chunks")
        if self._align_chunks and v.chunks is not None and isinstance(unit, tuple):
            from xarray.backends.chunks import grid_rechunk

            target = tuple(region[d].indices(n)[:2] for d, n in zip(v.dims, shape, strict=True))
            v = grid_rechunk(v=v, enc_chunks=unit, region=tuple(slice(*b) for b in target))
        return {
            "name": name, "var": v, "attrs": attrs, "fill_value": fill_value, "encoding": encoding,
            "region": region, "array": array, "shape": shape, "unit": unit,
        }  # fmt: skip

    def _target(self, plan: dict[str, Any]) -> Any:
        array = plan["array"]
        if array is not None:
            if tuple(array.shape) != plan["shape"]:
                if all(n >= o for n, o in zip(plan["shape"], array.shape, strict=True)):
                    array = stage_growth(array, plan["shape"])
                    self.grown.append(array)
                else:
                    array = resize_array(array, plan["shape"])
            return array
        v = plan["var"]
        return create_child_array(
            self.group,
            plan["name"],
            shape=v.shape,
            dtype=v.dtype,
            fill_value=plan["fill_value"],
            encoding=plan["encoding"],
            dims=v.dims,
            attrs={k: self.encode_attribute(a) for k, a in plan["attrs"].items()},
            overwrite=self._mode == "w",
        )

    def _pop_fill_value(self, name: str, v: Variable, attrs: dict[str, Any]) -> Any:
        if self._use_fill_as_mask:
            fill_value = attrs.pop("_FillValue", None)
        else:
            fill_value = v.encoding.pop("fill_value", None)
            if fill_value is None and v.dtype.kind == "f":
                fill_value = np.nan
            if attrs.get("_FillValue") is not None:
                attrs["_FillValue"] = FillValueCoder.encode(attrs.pop("_FillValue"), v.dtype)
            else:
                attrs.pop("_FillValue", None)
        if v.encoding.get("_FillValue") is not None:
            raise InvalidWriteError(
                f"variable {name!r} has _FillValue in its encoding; Zarr takes it from attrs (or "
                f"encoding['fill_value'] for v3)"
            )
        v.encoding.pop("_FillValue", None)
        return fill_value

    def child(self, name: str) -> ZarrlayerDataStore:
        """The data store of subgroup `name`, with the same options."""
        groups = self.subgroups()
        if name not in groups:
            raise NodeNotFoundError(f"no group {name!r} in group {self.group.path!r}")
        return type(self)(
            groups[name],
            mode=self._mode,
            use_zarr_fill_value_as_mask=self._use_fill_as_mask,
            append_dim=self._append_dim,
            write_region=self._write_region,
            safe_chunks=self._safe_chunks,
            align_chunks=self._align_chunks,
            write_empty_chunks=self._write_empty,
        )


def _check_alignment(plan: dict[str, Any], *, partial_ends: bool) -> None:
    """Refuse dask chunks of a variable that would share a stored chunk (or shard) of its target.

    Without `partial_ends` (mode 'r+', as xarray's engine) the region must also start and end on
    stored chunk boundaries: a partial chunk at its ends may be shared with another writer.
    """
    v, unit, shape = plan["var"], plan["unit"], plan["shape"]
    if v.chunks is None or not isinstance(unit, tuple) or len(unit) != v.ndim:
        return
    bounds = tuple(slice(*plan["region"][d].indices(n)[:2]) for d, n in zip(v.dims, shape, strict=True))
    where = f"Specified Zarr chunks of the variable named {plan['name']!r} would overlap multiple Dask chunks"
    check_aligned_chunks(v.chunks, bounds, unit, shape, where)
    if not partial_ends:
        check_aligned_region(bounds, unit, shape, where)


_CF_KEYS = ("units", "calendar")


def _check_same_encoding(name: Hashable, new: Variable, stored: Variable) -> None:
    """Refuse times or timedeltas whose CF encoding (units, calendar, stored dtype) differs from what is stored."""
    for key in _CF_KEYS:
        if key in stored.attrs and not _same_cf(key, new.attrs.get(key), stored.attrs[key]):
            raise InvalidWriteError(
                f"variable {name!r} is stored with {key}={stored.attrs.get(key)!r}; the data to write "
                f"encodes to {key}={new.attrs.get(key)!r}, which would be read back wrong"
            )
    if new.dtype != stored.dtype:
        raise InvalidWriteError(
            f"variable {name!r} is stored as {stored.dtype}; the data to write encodes to {new.dtype}"
        )


def _same_cf(key: str, new: Any, old: Any) -> bool:
    """Whether two CF `units` (or `calendar`) strings mean the same ('days since 2000-01-01' and '... 00:00:00')."""
    if new == old:
        return True
    if not (isinstance(new, str) and isinstance(old, str)):
        return False
    if key == "calendar":
        standard = ("standard", "gregorian")
        return new.lower() == old.lower() or (new.lower() in standard and old.lower() in standard)
    import pandas as pd

    try:
        new_unit, new_ref = (part.strip() for part in new.split(" since "))
        old_unit, old_ref = (part.strip() for part in old.split(" since "))
        return new_unit == old_unit and pd.Timestamp(new_ref) == pd.Timestamp(old_ref)
    except ValueError:
        return False


def _auto_shards(v: Variable, chunks: Any, name: str) -> dict[str, Any]:
    """encoding `shards="auto"` resolved as zarr-python does: two chunks per shard along each axis
    that holds more than 8 chunks, one chunk elsewhere."""
    if not isinstance(chunks, tuple | list) or len(chunks) != v.ndim:
        chunks = tuple(max(1, n) for n in v.shape) if v.chunks is None else tuple(max(c[0], 1) for c in v.chunks)
    chunks = tuple(int(c) for c in chunks)
    shards = tuple(c * 2 if n // max(c, 1) > 8 else c for n, c in zip(v.shape, chunks, strict=True))
    return {"chunks": chunks, "shards": shards}


def _check_append_dtype(name: Hashable, old: Variable, new: Variable) -> None:
    easy = (
        np.issubdtype(new.dtype, np.number)
        or np.issubdtype(new.dtype, np.datetime64)
        or np.issubdtype(new.dtype, np.bool_)
        or new.dtype == object
        or new.dtype.kind == "T"
        or (new.dtype.kind in ("S", "U") and old.dtype == object)
    )
    if not easy and new.dtype != old.dtype:
        raise InvalidWriteError(
            f"Mismatched dtypes for variable {name!r}: it is stored with dtype {old.dtype}; the data to "
            f"append has dtype {new.dtype}"
        )

