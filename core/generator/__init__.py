"""The live generator: a DCGAN-style generator family whose variants differ only in the
upsampling layer, rendered at initialisation or fitted to a target image (torch).
"""
