"""Every ```python block of docs/PYTHON.md and README.md runs, each in a fresh namespace."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCKS = [
    (f"{path.name}[{i}]", block)
    for path in (ROOT / "docs" / "PYTHON.md", ROOT / "README.md")
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))
]


def test_the_guides_have_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("name,block", BLOCKS, ids=[name for name, _ in BLOCKS])
def test_guide_example(name, block, capsys):
    exec(compile(block, name, "exec"), {})
