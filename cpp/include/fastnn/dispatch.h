// SIMD level selection (dispatch.cpp): used by the bindings and tests.
#pragma once
#include <string>
#include <vector>

namespace fastnn {
// Levels this CPU can run, best first.
std::vector<std::string> supported_simd_levels();
// Switch the active table (tests run every kernel at every level). Throws std::invalid_argument.
void set_simd_level(const std::string& name);
}  // namespace fastnn
