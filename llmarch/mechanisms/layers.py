"""The one place that reads the IR's mechanism fields and returns protocol objects: a layer's mixer,
FFN, the block's residual mechanism and per-layer extras, the model-level mechanisms, and the residual
norms the block gives each.
Analyzers loop over what these functions return and never name a mechanism."""

from __future__ import annotations

from typing import Optional

from ..ir import AttentionIR, LayerIR, ModelIR
from .altup import AltUp
from .attention import Attention
from .base import Mechanism, Weight, norm
from .compressed_attention import CompressedAttention
from .ffn import DenseFFN
from .gated_deltanet import GatedDeltaNet
from .hyper_connections import HyperConnections
from .kda import KimiDeltaAttention
from .latent_moe import LatentMoE
from .laurel import Laurel
from .layer_scalar import LayerScalar
from .lightning import LightningAttention
from .mamba2 import Mamba2
from .mla import MultiHeadLatentAttention
from .mlstm import MatrixLSTM
from .moe import MoE
from .ngram_embedding import NgramEmbedding
from .parallel_block import ParallelBlock
from .parallel_ffn import ParallelFFN
from .per_layer_inputs import PerLayerInputs
from .residual_scaling import ResidualScaling


def attention_mechanism(a: AttentionIR, kv_shared_from: Optional[int] = None) -> Attention:
    """The attention kind of `a`: MLA, DeepSeek V4's compressed attention, or MHA/GQA/MQA with its options
    (and the layer it reuses KV from)."""
    if a.kind == "compressed":
        return CompressedAttention(a)
    return MultiHeadLatentAttention(a) if a.is_mla else Attention(a, kv_shared_from)


def layer_ffn(ir: ModelIR, layer: LayerIR) -> Optional[Mechanism]:
    """The FFN of one layer (dense or experts), or None."""
    return next((m for m in layer_mechanisms(ir, layer) if m.slot == "ffn"), None)


def layer_mixer(ir: ModelIR, layer: LayerIR) -> Optional[Mechanism]:
    """The mixer of one layer (attention, a linear mixer), or None for an FFN-only layer."""
    mechanisms = layer_mechanisms(ir, layer)
    return mechanisms[0] if mechanisms and mechanisms[0].slot in ("attn", "mixer") else None


def model_mechanisms(ir: ModelIR) -> list[Mechanism]:
    """The extras present in every layer of the model (and holding model-level weights), in layer order."""
    out: list[Mechanism] = []
    if ir.per_layer_embedding_dim:
        out.append(PerLayerInputs(ir.per_layer_embedding_dim, ir.per_layer_embedding_vocab, ir.n_layers, ir.norm.bias))
    if ir.altup_inputs:
        out.append(AltUp(ir.altup_inputs))
    if ir.laurel_rank:
        out.append(Laurel(ir.laurel_rank))
    if ir.residual_scaling:
        out.append(ResidualScaling())
    if ir.hc_streams:
        out.append(HyperConnections(ir.hc_streams, ir.hc_sinkhorn_iters))
    if ir.ngram_embedding is not None:
        out.append(NgramEmbedding(ir.ngram_embedding, ir.vocab_size))
    return out


def layer_mechanisms(ir: ModelIR, layer: LayerIR) -> list[Mechanism]:
    """The mechanisms of one layer: its mixer, its FFN, the block's residual mechanism where it is not the
    sequential one (it runs the FFN beside the mixer), then the model's per-layer extras."""
    out: list[Mechanism] = []
    if layer.attention is not None:
        out.append(attention_mechanism(layer.attention, layer.kv_shared_from))
    elif layer.gated_deltanet is not None:
        out.append(GatedDeltaNet(layer.gated_deltanet))
    elif layer.kda is not None:
        out.append(KimiDeltaAttention(layer.kda))
    elif layer.mamba2 is not None:
        out.append(Mamba2(layer.mamba2))
    elif layer.lightning is not None:
        out.append(LightningAttention(layer.lightning))
    elif layer.mlstm is not None:
        out.append(MatrixLSTM(layer.mlstm))
    if layer.dense is not None and layer.moe is not None:
        post_norms = ir.norm.placement in ("post", "sandwich")
        out.append(ParallelFFN(layer.dense, layer.moe, post_norms, ir.norm.bias))
    elif layer.dense is not None:
        out.append(DenseFFN(layer.dense))
    elif layer.moe is not None:
        out.append(LatentMoE(layer.moe) if layer.moe.latent_dim else MoE(layer.moe))
    block = block_residual(ir)
    if block is not None:
        out.append(block)
    if ir.norm.layer_scalar:
        out.append(LayerScalar())  # after the FFN: its `leave` scales the block's output last
    return out + [m for m in model_mechanisms(ir) if m.in_layers]


def block_residual(ir: ModelIR) -> Optional[ParallelBlock]:
    """The block's residual mechanism when it is not the sequential one (the parallel block), or None."""
    return ParallelBlock(ir.norm) if ir.norm.residual == "parallel" else None


# Convention keys that concern one mechanism alone (its `conventions`), in kvcache's and flops' tables
MECHANISM_CONVENTIONS = frozenset({"compressed"})


def conventions_held(irs: list[ModelIR]) -> set[str]:
    """The keys of the mechanism-specific convention lines (`Mechanism.conventions`) that some model of
    `irs` needs: what a human table prints beside the general lines."""
    held: set[str] = set()
    for ir in irs:
        for layer, _ in ir.layer_groups:
            for m in layer_mechanisms(ir, layer):
                held.update(m.conventions)
    return held


def table_conventions(conventions: dict[str, str], irs: list[ModelIR]) -> dict[str, str]:
    """The lines of `conventions` a human table of `irs` prints: every general line, and a line of
    MECHANISM_CONVENTIONS only where a model holds its mechanism (JSON keeps every line)."""
    held = conventions_held(list(irs))
    return {k: v for k, v in conventions.items() if k not in MECHANISM_CONVENTIONS or k in held}


def block_norm_names(ir: ModelIR, mechanism: Mechanism) -> list[str]:
    """The residual norms the block puts around `mechanism`: by the model's placement for a mixer or FFN
    (pre: `attn_norm`; post: `attn_post_norm`; sandwich: both), one norm of its own for an extra or for a
    block residual mechanism (the parallel block's `input_norm`, which its mixer and FFN read: they have
    none of their own there)."""
    place, prefix = ir.norm.placement, mechanism.norm_prefix
    if mechanism.sublayer and block_residual(ir) is not None:
        return []
    out: list[str] = []
    if not prefix or not mechanism.normed:  # norms of its own (hyper-connections: weightless), or none
        return out
    if not mechanism.sublayer or place in ("pre", "sandwich"):
        out.append(f"{prefix}_norm")
    if mechanism.sublayer and place in ("post", "sandwich"):
        out.append(f"{prefix}_post_norm")
    return out


def block_norms(ir: ModelIR, mechanism: Mechanism) -> list[Weight]:
    """The weights of `block_norm_names`: each a norm over d_model."""
    return [w for name in block_norm_names(ir, mechanism) for w in norm(name, ir.d_model, "norms", ir.norm.bias)]


def layer_weights(ir: ModelIR, layer: LayerIR) -> list[Weight]:
    """Every parameter of one layer, named as the meta build names it under `layers.N.`."""
    return [w for m in layer_mechanisms(ir, layer) for w in m.weights(ir.d_model) + block_norms(ir, m)]
