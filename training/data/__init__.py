"""The aligned-data forge: real photos in, aligned fakes of every kind out.

- `corpus`: assemble real photos (Debian packages, Python packages, a user's folder)
  into a cleaned, deduplicated, split corpus with a JSONL manifest.
- `forge`: turn each corpus photo into fakes (upsample, reconstruct, inpaint, perturb)
  that keep the photo's content, size and file format.
- `manifest`: the JSONL record that every forged set and reader writes (field docs there).
- `dataset`: a PyTorch Dataset over a manifest, cropping at native resolution.
- `readers`: GenImage, ForenSynths/UnivFD and flat real/fake folders into the same manifest.
"""
