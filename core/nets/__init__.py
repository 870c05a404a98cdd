"""Networks: loading, the built-in EfficientNet-Lite and zoo networks, weights, placement on devices, memory, ensembles, classes and classifying."""
