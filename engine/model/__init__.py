"""The joint video + ray diffusion transformer (JointDiT) and its parts."""

from .attention import Attention, block_diagonal_mask, joint_self_attention
from .dit import STREAMS, JointDiT
from .rope import apply_rope, grid_positions, rope_tables
from .wan_weights import joint_dit_from_wan, load_wan_state_dict, model_config_from_wan

__all__ = ["JointDiT", "STREAMS", "Attention", "joint_self_attention", "block_diagonal_mask", "rope_tables",
           "apply_rope", "grid_positions", "joint_dit_from_wan", "load_wan_state_dict", "model_config_from_wan"]
