// Inverted dropout's random rule, one owner for the Dropout kernel (elementwise.cc) and the fused attention
// probabilities (attention.cc), which must draw the same mask for the same seed: element i (its flat index) is kept
// when u >= ceil(rate·2^24), u the top 24 bits of splitmix64(key ^ i), key = splitmix64(seed). Counter-based, so the
// same seed gives the same mask on any thread count.
#pragma once

#include <cmath>
#include <cstdint>

namespace qaft {

// The TS twin is mixSeed (src/model/random.ts), splitmix32: the same construction in 32 bits, which derives the
// seeds the JS side uses. This one stays in C++ because the dropout kernels mix per element, on every thread; the
// two never need to agree (the native dropout mask is its own random stream).
inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Copy it into a local in each thread's loop: through a captured reference the mask's byte stores could alias it,
// which keeps the loop scalar.
struct DropoutRule {
  uint64_t key;
  uint64_t threshold;  // 24-bit uniforms, compared as integers

  DropoutRule(double rate, uint64_t seed)
      : key(SplitMix64(seed)), threshold(static_cast<uint64_t>(std::ceil(rate * 16777216.0))) {}

  bool Keep(uint64_t index) const { return (SplitMix64(key ^ index) >> 40) >= threshold; }
};

}  // namespace qaft
