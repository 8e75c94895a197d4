#version 450
#extension GL_GOOGLE_include_directive : require
// Writes the seeded pattern into a region of a storage buffer.
layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Data { uint words[]; } data;
#include "pattern.glsl"

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < region.count; i += stride) {
        data.words[region.first + i] = vkzc_pattern(region.seed, i);
    }
}
