"""Super-resolution architectures written out in plain PyTorch, so that community weights
(state dicts only, loaded with weights_only=True) can run without their authors' code.

Each module builds its network from a state dict alone: the block counts, widths and scale
are read off the tensor names and shapes, and loading is strict, so a file that does not
match the architecture fails instead of running half-initialised."""
from training.data.forge.nets.rrdb import RRDBNet
from training.data.forge.nets.srvgg import SRVGGNetCompact

__all__ = ["RRDBNet", "SRVGGNetCompact"]
