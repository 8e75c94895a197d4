#version 450
// A 4:2:0 frame with interleaved CbCr (NV12, or P010: 16-bit little-endian samples, the value in the
// top 10 bits) to tightly packed RGBA8, limited range, BT.601 or BT.709. Chroma is nearest: the four
// pixels of each 2x2 block take the one CbCr sample stored for it. vkzc/conformance/yuv.py is the
// CPU twin (reference_rgba): change both together.
//
// The frame is read as bytes out of 32-bit words, so planes may start and rows may end anywhere
// (NV12 rows of 1366 bytes, an imported dma-buf at any offset).
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Frame { uint words[]; } frame;
layout(std430, binding = 1) writeonly buffer Rgba { uint pixels[]; } rgba;
// ComputeProgram's push constants are the Region of pattern.glsl; the frame's layout comes here.
layout(std430, binding = 2) readonly buffer Layout {
    uint width;      // pixels; the height is region.count / width
    uint y_offset;   // bytes
    uint y_pitch;    // bytes
    uint uv_offset;  // bytes
    uint uv_pitch;   // bytes
    uint depth;      // 8 (NV12) or 10 (P010)
    uint matrix;     // 0: BT.601, 1: BT.709
} frame_layout;
layout(push_constant) uniform Region {
    uint seed;   // unused
    uint first;  // unused
    uint count;  // pixels: width * height
} region;

uint byte_at(uint address) {
    return (frame.words[address >> 2] >> ((address & 3u) * 8u)) & 0xFFu;
}

float sample_at(uint address) {
    if (frame_layout.depth == 8u) {
        return float(byte_at(address));
    }
    return float((byte_at(address) | (byte_at(address + 1u) << 8)) >> 6);
}

void main() {
    float scale = float(1u << (frame_layout.depth - 8u));
    float kr = frame_layout.matrix == 0u ? 0.299 : 0.2126;
    float kb = frame_layout.matrix == 0u ? 0.114 : 0.0722;
    float kg = 1.0 - kr - kb;
    uint sample_bytes = frame_layout.depth == 8u ? 1u : 2u;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < region.count; i += stride) {
        uint x = i % frame_layout.width;
        uint y = i / frame_layout.width;
        uint luma_at = frame_layout.y_offset + y * frame_layout.y_pitch + x * sample_bytes;
        uint chroma_at = frame_layout.uv_offset + (y / 2u) * frame_layout.uv_pitch + (x / 2u) * 2u * sample_bytes;
        float luma = (sample_at(luma_at) - 16.0 * scale) / (219.0 * scale);
        float cb = (sample_at(chroma_at) - 128.0 * scale) / (224.0 * scale);
        float cr = (sample_at(chroma_at + sample_bytes) - 128.0 * scale) / (224.0 * scale);
        vec3 rgb = vec3(
            luma + 2.0 * (1.0 - kr) * cr,
            luma - (2.0 * kb * (1.0 - kb) / kg) * cb - (2.0 * kr * (1.0 - kr) / kg) * cr,
            luma + 2.0 * (1.0 - kb) * cb);
        uvec3 v = uvec3(clamp(floor(rgb * 255.0 + 0.5), 0.0, 255.0));
        rgba.pixels[i] = v.r | (v.g << 8) | (v.b << 16) | (255u << 24);
    }
}
