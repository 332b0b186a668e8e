// Picks the kernel table once: the best ISA this CPU (and OS) supports, lowered by FASTNN_SIMD.
#include "fastnn/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastnn/kernel_table.h"

namespace fastnn {
namespace {

struct Level {
  const char* name;
  const KernelTable& (*table)();
  bool (*supported)();
};

bool always() { return true; }
#if defined(FASTNN_X86)
// __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool has_avx512() {
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif

// Best first.
const std::vector<Level>& levels() {
  static const std::vector<Level> v = {
#if defined(FASTNN_X86)
      {"avx512", &avx512::kernel_table, &has_avx512},
      {"avx2", &avx2::kernel_table, &has_avx2},
#endif
      {"scalar", &scalar::kernel_table, &always},
  };
  return v;
}

const KernelTable* pick_at_import() {
  const char* forced = std::getenv("FASTNN_SIMD");
  bool reached = forced == nullptr || *forced == '\0';
  for (const Level& l : levels()) {
    if (!reached && std::strcmp(forced, l.name) == 0) reached = true;
    if (reached && l.supported()) return &l.table();
  }
  // An unknown FASTNN_SIMD value falls back to the portable kernels rather than failing import.
  return &scalar::kernel_table();
}

std::atomic<const KernelTable*> g_table{nullptr};

}  // namespace

const KernelTable& kernels() {
  const KernelTable* t = g_table.load(std::memory_order_acquire);
  if (t == nullptr) {
    t = pick_at_import();
    g_table.store(t, std::memory_order_release);
  }
  return *t;
}

std::vector<std::string> supported_simd_levels() {
  std::vector<std::string> out;
  for (const Level& l : levels())
    if (l.supported()) out.emplace_back(l.name);
  return out;
}

void set_simd_level(const std::string& name) {
  for (const Level& l : levels()) {
    if (name == l.name) {
      if (!l.supported())
        throw std::invalid_argument("level: this CPU does not support '" + name + "'");
      g_table.store(&l.table(), std::memory_order_release);
      return;
    }
  }
  throw std::invalid_argument("level: unknown SIMD level '" + name +
                              "' (expected avx512, avx2 or scalar)");
}

}  // namespace fastnn
