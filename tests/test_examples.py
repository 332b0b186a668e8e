"""Each example program runs and its loss falls."""

import pathlib
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loss_falls(path):
    module = runpy.run_path(str(path))
    losses = module["main"](verbose=False)
    assert len(losses) > 5
    assert losses[-1] < 0.5 * losses[0], f"{path.stem}: {losses[0]} -> {losses[-1]}"
