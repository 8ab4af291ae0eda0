"""The install extras do what they say: only the [test] extra's code needs pytest.

The fresh-virtual-environment proof (core alone reads local data; [all] runs the demo and
every example) is a CI step, .ci/run's "extras" step; these are its fast in-suite halves.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Imports every module of the package (integrations included) with pytest made unimportable.
_IMPORT_ALL_WITHOUT_PYTEST = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class _NoPytest:
        def find_spec(self, name, path=None, target=None):
            if name == "pytest" or name.startswith(("pytest.", "_pytest")):
                raise ImportError(f"pytest imported by {sys._getframe(1).f_globals.get('__name__')}")
            return None

    sys.meta_path.insert(0, _NoPytest())
    import zarrlayer
    needs_pytest = {"zarrlayer.testing.store_tests"}
    failed = []
    names = [m.name for m in pkgutil.walk_packages(zarrlayer.__path__, "zarrlayer.")]
    for name in sorted(set(names) - needs_pytest):
        try:
            importlib.import_module(name)
        except ImportError as error:
            if "pytest" in str(error):
                failed.append(f"{name}: {error}")
    import zarrlayer.testing as testing
    assert "StoreTests" in dir(testing)
    try:
        testing.StoreTests
    except ImportError as error:
        assert "zarrlayer[test]" in str(error), error
    else:
        failed.append("StoreTests imported without pytest")
    print(len(names), "modules")
    assert not failed, failed
    """
)


def test_no_module_outside_the_test_suite_imports_pytest() -> None:
    result = subprocess.run([sys.executable, "-c", _IMPORT_ALL_WITHOUT_PYTEST], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[0]) > 40, result.stdout


def test_store_tests_are_importable_from_zarrlayer_testing() -> None:
    from zarrlayer.testing import BAD_KEYS, StoreTests
    from zarrlayer.testing.store_tests import StoreTests as direct

    assert StoreTests is direct and BAD_KEYS
