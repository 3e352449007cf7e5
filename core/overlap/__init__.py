"""Kernel overlap: how many (input pixel, kernel tap) pairs land on each output pixel, for a
layer, a stack of layers and every replacement. numpy only.
"""
