"""Replacements of a ConvTranspose2d: the method registry, each method's plan and code (no
torch), and the modules and weight transfers that build them (`modules`, `weights`: torch).
"""
