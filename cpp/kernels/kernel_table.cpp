// This ISA's kernel table: each kernel family fills its slots.
#include "fastnn/kernel_table.h"

#include "fastnn/isa.h"

namespace fastnn::FASTNN_ISA {

void fill_activations(KernelTable& t);
void fill_softmax(KernelTable& t);
void fill_optim(KernelTable& t);
void fill_losses(KernelTable& t);
void fill_linear(KernelTable& t);

const KernelTable& kernel_table() {
  static const KernelTable table = [] {
    KernelTable t;
    t.isa = FASTNN_ISA_NAME;
    fill_activations(t);
    fill_softmax(t);
    fill_optim(t);
    fill_losses(t);
    fill_linear(t);
    return t;
  }();
  return table;
}

}  // namespace fastnn::FASTNN_ISA
