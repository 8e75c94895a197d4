// The seeded pattern every path writes and checks. vkzc/pattern.py is its CPU twin:
// change both together (tests/test_shaders.py runs one against the other).
uint vkzc_pattern(uint seed, uint index) {
    uint x = (index * 0x9E3779B1u) ^ seed;
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

// A bijection applied in place, so a round trip proves the GPU read what the CPU wrote
// (a GPU that only writes would not reproduce it).
uint vkzc_transform(uint key, uint index, uint value) {
    return ((value ^ key) * 0x01000193u) + index;
}

// Words are addressed relative to `first`, so the same pattern lands at any offset.
layout(push_constant) uniform Region {
    uint seed;   // pattern seed, or transform key
    uint first;  // first word of the region inside the bound buffer
    uint count;  // words in the region
} region;
