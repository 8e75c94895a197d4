"""Compute pipelines from the SPIR-V in shaders/, dispatched over storage buffers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vkzc.shaders import spirv
from vkzc.vk.binding import load
from vkzc.vk.device import DEFAULT_FENCE_TIMEOUT_S
from vkzc.vk.errors import call

if TYPE_CHECKING:
    from vkzc.vk.device import Device
    from vkzc.vk.resources import Buffer

vk = load()

WORKGROUP_SIZE = 256  # local_size_x of every shader in shaders/
MAX_GROUPS = 4096  # the shaders loop with a grid stride, so a bounded dispatch covers any size
_REGION_SIZE = 12  # three uint32: seed, first, count


class ComputeProgram:
    """One shader with `bindings` storage buffers (binding 0…n-1) and the Region push constants
    (seed, first, count) of shaders/pattern.glsl."""

    def __init__(self, device: Device, name: str, *, bindings: int) -> None:
        self.device = device
        self.name = name
        self.bindings = bindings
        dev = device.handle
        layout_bindings = [
            vk.VkDescriptorSetLayoutBinding(
                binding=i,
                descriptorType=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                descriptorCount=1,
                stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT,
            )
            for i in range(bindings)
        ]
        self.set_layout = call(
            "vkCreateDescriptorSetLayout",
            dev,
            vk.VkDescriptorSetLayoutCreateInfo(
                sType=vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                bindingCount=bindings,
                pBindings=layout_bindings,
            ),
            None,
        )
        push = vk.VkPushConstantRange(stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT, offset=0, size=_REGION_SIZE)
        self.layout = call(
            "vkCreatePipelineLayout",
            dev,
            vk.VkPipelineLayoutCreateInfo(
                sType=vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                setLayoutCount=1,
                pSetLayouts=[self.set_layout],
                pushConstantRangeCount=1,
                pPushConstantRanges=[push],
            ),
            None,
        )
        code = spirv(name)
        module = call(
            "vkCreateShaderModule",
            dev,
            vk.VkShaderModuleCreateInfo(
                sType=vk.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, codeSize=len(code), pCode=code
            ),
            None,
        )
        try:
            stage = vk.VkPipelineShaderStageCreateInfo(
                sType=vk.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                stage=vk.VK_SHADER_STAGE_COMPUTE_BIT,
                module=module,
                pName="main",
            )
            info = vk.VkComputePipelineCreateInfo(
                sType=vk.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, stage=stage, layout=self.layout
            )
            self.pipeline = call("vkCreateComputePipelines", dev, vk.VK_NULL_HANDLE, 1, [info], None)[0]
        finally:
            vk.vkDestroyShaderModule(dev, module, None)
        self.pool = call(
            "vkCreateDescriptorPool",
            dev,
            vk.VkDescriptorPoolCreateInfo(
                sType=vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                flags=vk.VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
                maxSets=1,
                poolSizeCount=1,
                pPoolSizes=[
                    vk.VkDescriptorPoolSize(
                        type=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount=bindings
                    )
                ],
            ),
            None,
        )
        self.descriptor_set = call(
            "vkAllocateDescriptorSets",
            dev,
            vk.VkDescriptorSetAllocateInfo(
                sType=vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                descriptorPool=self.pool,
                descriptorSetCount=1,
                pSetLayouts=[self.set_layout],
            ),
        )[0]
        device.own(self)

    def run(
        self,
        buffers: Sequence[Buffer],
        *,
        seed: int,
        first: int,
        count: int,
        timeout_s: float = DEFAULT_FENCE_TIMEOUT_S,
        groups: tuple[int, int, int] | None = None,
    ) -> None:
        """Dispatch over `count` words starting at word `first` of buffers[0], and wait. `groups`
        overrides the workgroup count, which otherwise covers `count` with a bounded grid.

        A barrier makes the shader's writes visible to the host, so a mapping read afterwards
        (invalidated where the memory is not coherent) sees them.
        """
        if len(buffers) != self.bindings:
            raise ValueError(f"{self.name} takes {self.bindings} buffers, got {len(buffers)}")
        infos = [vk.VkDescriptorBufferInfo(buffer=b.handle, offset=0, range=b.size) for b in buffers]
        writes = [
            vk.VkWriteDescriptorSet(
                sType=vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                dstSet=self.descriptor_set,
                dstBinding=i,
                descriptorCount=1,
                descriptorType=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                pBufferInfo=[info],
            )
            for i, info in enumerate(infos)
        ]
        vk.vkUpdateDescriptorSets(self.device.handle, len(writes), writes, 0, None)
        push = vk.ffi.new("uint32_t[3]", [seed & 0xFFFFFFFF, first, count])
        if groups is None:
            groups = (max(1, min(MAX_GROUPS, -(-count // WORKGROUP_SIZE))), 1, 1)

        def record(cmd: Any) -> None:
            vk.vkCmdBindPipeline(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, self.pipeline)
            vk.vkCmdBindDescriptorSets(
                cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, self.layout, 0, 1, [self.descriptor_set], 0, None
            )
            vk.vkCmdPushConstants(cmd, self.layout, vk.VK_SHADER_STAGE_COMPUTE_BIT, 0, _REGION_SIZE, push)
            vk.vkCmdDispatch(cmd, *groups)
            barrier = vk.VkMemoryBarrier(
                sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                srcAccessMask=vk.VK_ACCESS_SHADER_WRITE_BIT,
                dstAccessMask=vk.VK_ACCESS_HOST_READ_BIT,
            )
            vk.vkCmdPipelineBarrier(
                cmd,
                vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                vk.VK_PIPELINE_STAGE_HOST_BIT,
                0,
                1,
                [barrier],
                0,
                None,
                0,
                None,
            )

        self.device.submit(record, timeout_s=timeout_s)

    def destroy(self) -> None:
        if self.pipeline is not None:
            dev = self.device.handle
            vk.vkDestroyDescriptorPool(dev, self.pool, None)
            vk.vkDestroyPipeline(dev, self.pipeline, None)
            vk.vkDestroyPipelineLayout(dev, self.layout, None)
            vk.vkDestroyDescriptorSetLayout(dev, self.set_layout, None)
            self.pipeline = None
