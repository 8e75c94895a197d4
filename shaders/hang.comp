#version 450
#extension GL_GOOGLE_include_directive : require
// Runs for days (fault injection only): a GPU hang for the suite's timeout handling to meet.
// Three nested loops of `region.count` turns each, storing to memory on every turn so no
// compiler may remove them. Not one endless loop: some drivers (llvmpipe's gallivm) stop a
// loop after 65535 turns to survive endless shaders, so each loop here stays below that.
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer Data { uint words[]; } data;
#include "pattern.glsl"

void main() {
    for (uint i = 0u; i < region.count; i++) {
        for (uint j = 0u; j < region.count; j++) {
            for (uint k = 0u; k < region.count; k++) {
                atomicAdd(data.words[region.first], 1u);
            }
        }
    }
}
