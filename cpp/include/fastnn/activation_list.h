// The registry of elementwise activations: adding one is a functor in activation_functors.h and
// one line here. Columns: python name, functor, number of parameters, then each parameter's
// python name and default, then whether an output-based backward (y = f(x)) exists.
#pragma once

#define FASTNN_ACTIVATIONS(X)                                         \
  X(identity, Identity, 0, "", 0.0, "", 0.0, false)                   \
  X(step, Step, 0, "", 0.0, "", 0.0, false)                           \
  X(sigmoid, Sigmoid, 0, "", 0.0, "", 0.0, true)                      \
  X(tanh, Tanh, 0, "", 0.0, "", 0.0, true)                            \
  X(relu, Relu, 0, "", 0.0, "", 0.0, false)                           \
  X(leaky_relu, LeakyRelu, 1, "negative_slope", 0.01, "", 0.0, false) \
  X(elu, Elu, 1, "alpha", 1.0, "", 0.0, false)                        \
  X(selu, Selu, 0, "", 0.0, "", 0.0, false)                           \
  X(gelu, Gelu, 0, "", 0.0, "", 0.0, false)                           \
  X(gelu_tanh, GeluTanh, 0, "", 0.0, "", 0.0, false)                  \
  X(silu, Silu, 0, "", 0.0, "", 0.0, false)                           \
  X(softplus, Softplus, 2, "beta", 1.0, "threshold", 20.0, false)     \
  X(hardsigmoid, Hardsigmoid, 0, "", 0.0, "", 0.0, false)             \
  X(hardswish, Hardswish, 0, "", 0.0, "", 0.0, false)
