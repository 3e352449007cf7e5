"""Geometry of transposed convolutions: the layer, its output size, the inverse solver, Keras.

Plain Python: nothing here imports numpy or torch.
"""
