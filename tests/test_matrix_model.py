"""What a cell knows about itself: identifier, ICD file, renderer proof, feasibility."""

from __future__ import annotations

from vkzc.matrix import Cell, DebianPackages, DebianSource, DockerRunner, Driver, MesaBuild

LAVAPIPE = Driver(
    id="lavapipe", icd="lvp_icd.{arch}.json", needs=(), renderer="llvmpipe*", mesa_driver="swrast"
)
V3DV = Driver(
    id="v3dv",
    icd="broadcom_icd.{arch}.json",
    needs=("/dev/dri/renderD*",),
    renderer="V3D {4.2,7.1}*",
    mesa_driver="broadcom",
)
NVIDIA = Driver(
    id="nvidia", icd="nvidia_icd.json", needs=("/dev/nvidiactl",), renderer="NVIDIA*", mesa_driver=None
)
SID = MesaBuild(
    id="mesa-26.2.6-debian-sid", source=DebianPackages(suite="sid", version="26.2.6-1", icd_arch_suffix=False)
)
SOURCE = MesaBuild(
    id="mesa-25.0.7-source",
    source=DebianSource(suite="trixie", version="25.0.7-2+deb13u1", vulkan_drivers=("swrast",)),
)
RPI5 = DockerRunner(id="rpi5-videocore7", arch="arm64", devices=("/dev/dri/renderD128",))


def test_identifier_and_icd_file() -> None:
    cell = Cell(mesa=SOURCE, driver=V3DV, runner=RPI5)
    assert cell.identifier == "mesa-25.0.7-source/v3dv/rpi5-videocore7-arm64"
    assert cell.icd_file == "broadcom_icd.aarch64.json"
    assert Cell(mesa=SID, driver=V3DV, runner=RPI5).icd_file == "broadcom_icd.json"
    assert NVIDIA.icd_file("amd64") == "nvidia_icd.json"


def test_renderer_proves_the_driver() -> None:
    assert V3DV.renderer_matches("V3D 7.1.7")
    assert V3DV.renderer_matches("V3D 4.2.14")
    assert not V3DV.renderer_matches("llvmpipe (LLVM 19.1.7, 256 bits)")
    assert LAVAPIPE.renderer_matches("llvmpipe (LLVM 19.1.7, 256 bits)")


def test_feasibility() -> None:
    assert V3DV.runs_on(RPI5.devices)
    assert not V3DV.runs_on(())
    assert LAVAPIPE.runs_on(())
    assert SOURCE.provides(LAVAPIPE)
    assert not SOURCE.provides(V3DV)
    assert SID.provides(V3DV)
    assert SOURCE.provides(NVIDIA)  # not Mesa's: any build will do
