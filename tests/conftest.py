from pathlib import Path

import pytest

FIXTURE_SOURCE = Path(__file__).parent / "fixtures" / "chinese-poetry" / "dist"


@pytest.fixture(scope="session")
def fixture_source() -> Path:
    return FIXTURE_SOURCE


@pytest.fixture(scope="session")
def built_corpus(tmp_path_factory, fixture_source) -> Path:
    """The test fixture built into a corpus folder once per session."""
    from engine.corpus import build

    out = tmp_path_factory.mktemp("data") / "corpus"
    build(fixture_source, out, workers=1, progress=False)
    return out
