import os
import sys

import pytest

KIT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROOT = os.path.abspath(os.path.join(KIT, "..", ".."))
sys.path.insert(0, KIT)
SHARED = os.environ.get("PEAKLABEL_SHARED", os.path.join(ROOT, "..", "shared"))
WEIGHTS = os.path.join(SHARED, "weights", "squeezenet1.1")


def shared_path(*parts):
    """A file under ../shared; fails (never skips) when it is missing."""
    p = os.path.join(SHARED, *parts)
    if not os.path.exists(p):
        pytest.fail(f"required test data missing: {p} (../shared must sit beside the repository)")
    return p


@pytest.fixture(scope="session")
def squeezenet():
    from peaklabel_kit.ir import load_squeezenet
    shared_path("weights", "squeezenet1.1", "squeezenet1.1.bin")
    return load_squeezenet(WEIGHTS)
