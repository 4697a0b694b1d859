import os
import sys

# make tests/engine/engine_helpers.py importable as ``engine_helpers``
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "engine"))

try:
    from hypothesis import settings

    settings.register_profile("ci", deadline=None, print_blob=True)
    settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass
