#version 450
#extension GL_GOOGLE_include_directive : require
// Counts the words of a region that differ from the seeded pattern and keeps the first one.
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Data { uint words[]; } data;
layout(std430, binding = 1) buffer Result { uint mismatches; uint first_bad; } result;
#include "pattern.glsl"

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < region.count; i += stride) {
        if (data.words[region.first + i] != vkzc_pattern(region.seed, i)) {
            atomicAdd(result.mismatches, 1u);
            atomicMin(result.first_bad, i);
        }
    }
}
