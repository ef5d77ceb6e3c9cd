"""Observation encoders: images -> feature vectors.

`ConvEncoder`: the small spatial-softmax CNN of the BC policy; `ResNetEncoder`: the
GroupNorm ResNet-18 with spatial softmax of Diffusion Policy. `TactileTransformer`: the
shared-trunk tactile transformer (T3 family), saved and loaded with `save_encoder` /
`load_encoder`, imported from T3's published weights with `import_t3`, and used by a policy
frozen, fine-tuned or from scratch through `policy_encoder`.
"""

from policies.encoders.conv import ConvEncoder, ResNetEncoder, SpatialSoftmax, random_shift
from policies.encoders.encoder_checkpoint import load_encoder, save_encoder
from policies.encoders.modes import EncoderMode, PolicyEncoder, policy_encoder
from policies.encoders.preprocess import Preprocessing, preprocess
from policies.encoders.t3_import import import_t3
from policies.encoders.transformer import SIZES, TactileTransformer, TransformerConfig

__all__ = [
    "SIZES",
    "ConvEncoder",
    "EncoderMode",
    "PolicyEncoder",
    "Preprocessing",
    "ResNetEncoder",
    "SpatialSoftmax",
    "TactileTransformer",
    "TransformerConfig",
    "import_t3",
    "load_encoder",
    "policy_encoder",
    "preprocess",
    "random_shift",
    "save_encoder",
]
