"""The model converter: parse a printout (`model_text`), trace its shapes (`shape_trace`), rewrite
its transposed convolutions as code (`text_conversion`); no torch in those three. `live` converts
a live torch model, `torch_check` checks a pasted chain with torch.
"""
