// Kernel code lives in fastnn::FASTNN_ISA (scalar, avx2 or avx512), set per object library by
// CMake.
#pragma once
#ifndef FASTNN_ISA
#error "kernel sources are compiled once per ISA with -DFASTNN_ISA=<name>"
#endif
#define FASTNN_STR2(x) #x
#define FASTNN_STR(x) FASTNN_STR2(x)
#define FASTNN_ISA_NAME FASTNN_STR(FASTNN_ISA)
