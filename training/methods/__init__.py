"""Detection methods: ``mixed`` and ``sef`` encoders, the linear and GAMMA heads."""

from .heads import GammaHead, LinearHead
from .mixed import MixedEncoder
from .output import DetectorOutput, EncoderOutput
from .sef import SefEncoder

__all__ = ["DetectorOutput", "EncoderOutput", "GammaHead", "LinearHead", "MixedEncoder", "SefEncoder"]
