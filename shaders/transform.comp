#version 450
#extension GL_GOOGLE_include_directive : require
// Replaces every word of a region by vkzc_transform() of itself, in place.
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Data { uint words[]; } data;
#include "pattern.glsl"

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < region.count; i += stride) {
        uint w = region.first + i;
        data.words[w] = vkzc_transform(region.seed, i, data.words[w]);
    }
}
