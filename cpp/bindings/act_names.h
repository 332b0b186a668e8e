// The activation registry (fastnn/activation_list.h) by name, for bindings that take an
// activation as a string: its enum, parameter names and defaults.
#pragma once
#include <string>
#include <vector>

#include "fastnn/kernel_table.h"

namespace fastnn::bind {

struct ActInfo {
  const char* name;
  Act act;
  int nparams;
  const char* p[2];
  double d[2];
};

inline const std::vector<ActInfo>& act_infos() {
  static const std::vector<ActInfo> v = {
#define FASTNN_ACT_INFO(name, Functor, nparams, p0, d0, p1, d1, has_y) \
  {#name, Act::name, nparams, {p0, p1}, {d0, d1}},
      FASTNN_ACTIVATIONS(FASTNN_ACT_INFO)
#undef FASTNN_ACT_INFO
  };
  return v;
}

// The registry entry named `name` (no aliases), or null.
inline const ActInfo* find_act(const std::string& name) {
  for (const ActInfo& a : act_infos())
    if (name == a.name) return &a;
  return nullptr;
}

}  // namespace fastnn::bind
