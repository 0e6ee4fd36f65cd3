"""The public face: what `import livemind` and `livemind.kernels` export, and nothing private."""

import inspect
import subprocess
import sys

import pytest

import livemind
import livemind.kernels as K


@pytest.mark.parametrize("module", [livemind, K], ids=lambda m: m.__name__)
def test_all_is_sorted_complete_and_documented(module):
    assert module.__all__ == sorted(module.__all__)
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and not inspect.ismodule(v)}
    assert public == set(module.__all__) - {"__version__"}
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"


def test_errors_share_one_root():
    assert issubclass(livemind.LiveMindError, Exception)


def test_import_livemind_needs_no_web_framework():
    code = "import sys, livemind, livemind.kernels; print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_info_reports_the_active_isa():
    out = subprocess.run([sys.executable, "-m", "livemind", "info"], capture_output=True, text=True, check=True)
    assert f"isa: {K.isa()}" in out.stdout
