"""The exception hierarchy: one base class, each subclass also the builtin that fits.

Every error says what was expected, what was found and where (store URL, key or
array path). Credentials never appear in a message.
"""

from __future__ import annotations

__all__ = [
    "ZarrlayerError",
    "BaseZarrError",
    "ArrayIndexError",
    "ArrayNotFoundError",
    "GroupNotFoundError",
    "MetadataValidationError",
    "NodeTypeValidationError",
    "NegativeStepError",
    "VindexInvalidSelectionError",
    "ContainsArrayAndGroupError",
    "ChunkNotFoundError",
    "DataTypeValidationError",
    "PickleCodecDisabledError",
    "UnknownCodecError",
    "ZarrDeprecationWarning",
    "ZarrFutureWarning",
    "ZarrRuntimeWarning",
    "ZarrUserWarning",
    "UnstableSpecificationWarning",
    "UnknownSettingError",
    "ArgumentError",
    "ArgumentTypeError",
    "DataTypeError",
    "ExistingArrayError",
    "ExistingGroupError",
    "NotJSONError",
    "SliceStepError",
    "InvalidKeyError",
    "InvalidByteRangeError",
    "ReadOnlyError",
    "StoreError",
    "RemoteStoreError",
    "NodeNotFoundError",
    "NodeExistsError",
    "MemberNotFoundError",
    "ContainsArrayError",
    "ContainsGroupError",
    "ModeError",
    "MetadataError",
    "UnsupportedFeatureError",
    "CodecError",
    "ChunkDecodeError",
    "UnsafeCodecError",
    "BoundsCheckError",
    "ValueRangeError",
    "SelectionError",
    "ShapeError",
    "MissingDependencyError",
    "missing_dependency",
]


class ZarrlayerError(Exception):
    """Base class of every error zarrlayer raises on purpose."""


class BaseZarrError(ZarrlayerError, ValueError):
    """zarr-python's base of its node and metadata errors (a ValueError); ours derive from it where theirs do."""


class InvalidKeyError(ZarrlayerError, ValueError):
    """A store key breaks the key contract (traversal, empty segment, backslash, NUL...)."""


class InvalidByteRangeError(ZarrlayerError, ValueError):
    """A byte request with a negative or inverted range."""


class ArgumentError(ZarrlayerError, ValueError):
    """An argument with a value the call cannot use (two spellings of one option that differ, a negative depth...)."""


class ArgumentTypeError(ZarrlayerError, TypeError):
    """An argument of a type the call cannot use."""


class UnknownSettingError(ZarrlayerError, KeyError):
    """`config.get(key)` of a key zarrlayer has no setting for (and no default was given)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ReadOnlyError(ZarrlayerError, PermissionError, ValueError):
    """A write, delete or clear on a read-only store, array or group (a ValueError too, as zarr-python's)."""


class StoreError(ZarrlayerError, OSError):
    """A store could not complete an operation (I/O failure, bad archive...)."""


class RemoteStoreError(StoreError):
    """A remote request failed, after retries where the failure was transient."""


class NodeNotFoundError(BaseZarrError, FileNotFoundError):
    """No array or group (or no store location) where one was expected (a ValueError too, as in zarr-python)."""


class GroupNotFoundError(NodeNotFoundError):
    """No group where one was to be opened (zarr-python's name; `open_group` with mode 'r'/'r+')."""


class ArrayNotFoundError(NodeNotFoundError):
    """No array where one was to be opened (zarr-python's name; `open_array` with mode 'r'/'r+')."""


class MemberNotFoundError(ZarrlayerError, KeyError):
    """`group[name]` (or `del group[name]`) where the group has no such member."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NodeExistsError(BaseZarrError, FileExistsError):
    """An array or group exists where the mode forbids one (a ValueError too, as zarr-python's Contains*Error)."""


class ContainsArrayError(NodeExistsError):
    """An array exists at the path."""


class ContainsGroupError(NodeExistsError):
    """A group exists at the path."""


class ExistingArrayError(ContainsArrayError, TypeError):
    """`require_group` where an array is (a TypeError too, as zarr-python's require_group)."""


class ExistingGroupError(ContainsGroupError, TypeError):
    """`require_array` where a group is (a TypeError too, as zarr-python's require_array)."""


class ModeError(ZarrlayerError, ValueError):
    """An access mode that is unknown or does not fit the operation."""


class MetadataValidationError(BaseZarrError):
    """zarr-python's name for invalid metadata; every MetadataError is one, so `except` ports."""


class MetadataError(MetadataValidationError):
    """Malformed or unsupported Zarr metadata (bad JSON, wrong field types...)."""


class NodeTypeValidationError(MetadataError):
    """A zarr.json whose node_type is not 'array' or 'group' (zarr-python's name; a MetadataError too)."""


class ContainsArrayAndGroupError(MetadataError):
    """Both .zarray and .zgroup at one path (zarr-python's name; a MetadataError too)."""


class DataTypeValidationError(ZarrlayerError, ValueError):
    """zarr-python 3.4's name for an invalid data type; every DataTypeError is one, so `except` ports."""


class DataTypeError(MetadataError, DataTypeValidationError, TypeError):
    """A dtype that names no data type (a TypeError too, as numpy and zarr-python raise)."""


class NotJSONError(MetadataError, TypeError):
    """Attributes or metadata values that JSON cannot hold (a TypeError too, as json and zarr-python raise)."""


class UnsupportedFeatureError(MetadataError):
    """A must-understand extension or a feature zarrlayer does not implement."""


class CodecError(ZarrlayerError, ValueError):
    """An unknown codec or a codec configuration that cannot be used."""


class UnknownCodecError(CodecError, BaseZarrError):
    """A codec name no registry knows (zarr-python's name)."""


class ChunkDecodeError(CodecError):
    """Chunk bytes that are truncated, corrupt, fail a checksum or decode to the wrong size."""


class UnsafeCodecError(CodecError):
    """A codec that can run code on decode (pickle...) used without an explicit opt-in."""


class PickleCodecDisabledError(UnsafeCodecError, BaseZarrError):
    """The pickle codec refused (zarr-python 3.4's name; an UnsafeCodecError too)."""


class ChunkNotFoundError(BaseZarrError):
    """zarr-python 3.4's error for a missing chunk when missing chunks may not read as fill values.

    zarrlayer reads a missing chunk as the fill value, as the Zarr spec says, and does not raise
    it; the name exists so that `except` clauses port.
    """


class ValueRangeError(ZarrlayerError, OverflowError):
    """A Python value written to an array that its dtype cannot hold (300 into uint8), as numpy 2 raises."""


class BoundsCheckError(ZarrlayerError, IndexError):
    """A selection outside the array's shape."""


class SelectionError(ZarrlayerError, IndexError):
    """A selection of a kind or type that cannot index the array (float indices, a stepped block slice...)."""


class SliceStepError(SelectionError, ValueError):
    """A slice with step 0 (a ValueError too, as numpy raises)."""


class ArrayIndexError(SelectionError):
    """A selection the array cannot take (zarr-python's name; an IndexError)."""


class NegativeStepError(SelectionError):
    """A slice with a negative step where only steps >= 1 are supported (zarr-python's name)."""


class VindexInvalidSelectionError(SelectionError):
    """A `vindex` selection that is not integer arrays or one boolean mask (zarr-python's name)."""


class ShapeError(ZarrlayerError, ValueError):
    """A shape, or a value's shape, that does not fit: a resize to another rank, a value that does not broadcast."""


class MissingDependencyError(ZarrlayerError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


def missing_dependency(package: str, extra: str, feature: str) -> MissingDependencyError:
    """The error for an optional `package` needed by `feature`, naming the extra to install."""
    return MissingDependencyError(
        f"{feature} needs the optional package {package!r}, which is not installed; "
        f'install it with: pip install "zarrlayer[{extra}]"'
    )


class ZarrDeprecationWarning(DeprecationWarning):
    """zarr-python's deprecation warning class (warnings are not ZarrlayerErrors)."""


class ZarrFutureWarning(FutureWarning):
    """zarr-python's future-change warning class."""


class UnstableSpecificationWarning(ZarrFutureWarning):
    """A feature whose specification may still change (zarr-python's name)."""


class ZarrRuntimeWarning(RuntimeWarning):
    """zarr-python's runtime warning class."""


class ZarrUserWarning(UserWarning):
    """zarr-python's user warning class."""
