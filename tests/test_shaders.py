"""The shaders against their CPU twin (vkzc/pattern.py) on a real device, and the staleness check."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from vulkan_device import open_first_device

from vkzc import pattern, shaders
from vkzc.errors import EnvironmentMissing


@pytest.fixture(scope="module")
def kernels() -> Iterator[object]:
    for device in open_first_device():
        from vkzc.conformance.kernels import Kernels

        yield Kernels(device)


def _host_buffer(device, words: int):
    from vkzc.conformance.kernels import STORAGE
    from vkzc.vk.memory import HOST_COHERENT, HOST_VISIBLE, select_memory_type
    from vkzc.vk.resources import Buffer

    buffer = Buffer(device, words * 4, STORAGE)
    memory_type = select_memory_type(
        device.memory_types, buffer.requirements.type_bits, HOST_VISIBLE | HOST_COHERENT
    )
    memory = device.allocate(buffer.requirements.size, memory_type)
    buffer.bind(memory)
    return buffer, memory.map(0, words * 4).view(np.uint32)


def test_fill_shader_writes_the_cpu_pattern(kernels) -> None:
    with kernels.device.scope():
        buffer, words = _host_buffer(kernels.device, 5000)
        words[:] = 0
        kernels.fill(buffer, seed=1234, first=100, count=4000)
        assert np.array_equal(words[100:4100], pattern.pattern(1234, 4000))
        assert not words[:100].any() and not words[4100:].any()


def test_transform_shader_matches_cpu_transform(kernels) -> None:
    with kernels.device.scope():
        buffer, words = _host_buffer(kernels.device, 3000)
        words[:] = pattern.pattern(7, 3000)
        kernels.transform(buffer, key=0xDEADBEEF, first=0, count=3000)
        assert np.array_equal(words, pattern.transform(0xDEADBEEF, pattern.pattern(7, 3000)))


def test_verify_shader_finds_a_flipped_bit(kernels) -> None:
    with kernels.device.scope():
        buffer, words = _host_buffer(kernels.device, 70000)
        words[:] = pattern.pattern(99, 70000)
        assert kernels.verify(buffer, seed=99, first=0, count=70000).count == 0
        words[65537] ^= 1 << 17
        words[69999] ^= 1
        found = kernels.verify(buffer, seed=99, first=0, count=70000)
        assert (found.count, found.first) == (2, 65537)


def test_mismatch_reports_the_first_bad_word() -> None:
    expected = pattern.pattern(3, 100)
    actual = expected.copy()
    assert pattern.mismatch(actual, expected, "here") is None
    actual[[10, 50]] += 1
    report = pattern.mismatch(actual, expected, "in the mapping")
    assert (
        report is not None
        and report.startswith("word 10 of 100 in the mapping")
        and "(2 words differ)" in report
    )


def test_committed_spirv_is_fresh() -> None:
    if shutil.which("glslangValidator") is None:
        pytest.skip("needs glslangValidator (apt-get install glslang-tools)")
    assert shaders.stale(shaders.shader_dir()) == []


def test_stale_spirv_is_detected(tmp_path: Path) -> None:
    if shutil.which("glslangValidator") is None:
        pytest.skip("needs glslangValidator (apt-get install glslang-tools)")
    for f in shaders.shader_dir().iterdir():
        shutil.copy(f, tmp_path)
    source = tmp_path / "fill.comp"
    source.write_text(
        source.read_text().replace("vkzc_pattern(region.seed, i)", "vkzc_pattern(region.seed, i + 1u)")
    )
    assert shaders.stale(tmp_path) == ["fill"]


def test_missing_shader_folder_says_what_to_do(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VKZC_SHADER_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(EnvironmentMissing, match="VKZC_SHADER_DIR"):
        shaders.shader_dir()
