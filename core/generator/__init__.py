"""The live generator: a DCGAN-style generator family whose variants differ only in the
upsampling layer, rendered at initialisation or fitted to a target image (torch).

- `config`: `GeneratorConfig` (one architecture, validated) and the choices it takes.
- `model`: the family itself, `build_generator` and `sample_latents`.
- `devices`: where and how a run goes (device, precision, CPU threads, determinism).
- `run`: `render_at_init` and `fit`, the two runs the page offers.
- `results`: what they return (`Render`, `FitResult`, their variants, the shared `Geometry`).
- `measures`: the checkerboard numbers of a variant and a fit's PSNR.
- `spectra`: power spectra, their shared colour range, and the marked checkerboard frequencies.
- `pictures`: outputs as pictures (contrast stretch, uint8, grids, zoomed crops) and how a
  column shows them (grids without blank tiles, whole-number zooms).
- `flat`: a constant input through each variant's upsampling layer of a stage.
- `findings`: the sentences that state what the numbers show, built from them.
- `readouts`: the short texts the page shows for the numbers.
- `images`: fit targets (the default scene, safe uploads).
"""
