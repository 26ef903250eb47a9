//! huxley: fast, differentiable simulation of morphologically detailed neurons.
