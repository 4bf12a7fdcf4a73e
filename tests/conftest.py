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


def _tiny_config(corpus, out, **overrides):
    from engine.train import TrainConfig

    settings = dict(
        size="tiny", max_steps=12, batch_size=8, warmup_steps=2, eval_every=4, checkpoint_every=4, precision="fp32"
    )
    settings.update(overrides)
    return TrainConfig(corpus=corpus, out=out, **settings)


@pytest.fixture(scope="session")
def tiny_model(built_corpus, tmp_path_factory) -> Path:
    """A 0.1M-parameter model trained for 12 steps on the fixture corpus."""
    from engine.train import train

    return train(_tiny_config(built_corpus, tmp_path_factory.mktemp("tiny")), progress=False)


@pytest.fixture(scope="session")
def tiny_config():
    """Builds the TrainConfig of a tiny run: tiny_config(corpus, out, **overrides)."""
    return _tiny_config
