"""The exception hierarchy: one base class, each subclass also the builtin that fits.

Every error says what was expected, what was found and where (store URL, key or
array path). Credentials never appear in a message.
"""

from __future__ import annotations

__all__ = [
    "ZarrlayerError",
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
    "SelectionError",
    "ShapeError",
    "MissingDependencyError",
    "missing_dependency",
]


class ZarrlayerError(Exception):
    """Base class of every error zarrlayer raises on purpose."""


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


class NodeNotFoundError(ZarrlayerError, FileNotFoundError, ValueError):
    """No array or group (or no store location) where one was expected (a ValueError too, as in zarr-python)."""


class MemberNotFoundError(ZarrlayerError, KeyError):
    """`group[name]` (or `del group[name]`) where the group has no such member."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NodeExistsError(ZarrlayerError, FileExistsError, ValueError):
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


class MetadataError(ZarrlayerError, ValueError):
    """Malformed or unsupported Zarr metadata (bad JSON, wrong field types...)."""


class DataTypeError(MetadataError, TypeError):
    """A dtype that names no data type (a TypeError too, as numpy and zarr-python raise)."""


class NotJSONError(MetadataError, TypeError):
    """Attributes or metadata values that JSON cannot hold (a TypeError too, as json and zarr-python raise)."""


class UnsupportedFeatureError(MetadataError):
    """A must-understand extension or a feature zarrlayer does not implement."""


class CodecError(ZarrlayerError, ValueError):
    """An unknown codec or a codec configuration that cannot be used."""


class ChunkDecodeError(CodecError):
    """Chunk bytes that are truncated, corrupt, fail a checksum or decode to the wrong size."""


class UnsafeCodecError(CodecError):
    """A codec that can run code on decode (pickle...) used without an explicit opt-in."""


class BoundsCheckError(ZarrlayerError, IndexError):
    """A selection outside the array's shape."""


class SelectionError(ZarrlayerError, IndexError):
    """A selection of a kind or type that cannot index the array (float indices, a stepped block slice...)."""


class SliceStepError(SelectionError, ValueError):
    """A slice with step 0 (a ValueError too, as numpy raises)."""


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
