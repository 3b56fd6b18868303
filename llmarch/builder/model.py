"""Build a real `torch.nn.Module` from the IR on the meta device, by looping over the mechanism
protocol: each layer holds its mechanisms' modules (`Mechanism.module`, each beside its kind in
`mechanisms/<kind>_torch.py`) and the residual norms the block gives them; the model adds the token
embedding, the model-level parts (`Mechanism.model_module`), the final norm, the output layer and the
MTP modules.  No mechanism is named here.

Parameters are the uninitialised meta tensors of `mechanisms/primitives.py`.  Names follow the usual
layout: `embed_tokens`, `layers.N.attn.q_proj`, `layers.N.mixer.in_proj_qkvz`,
`layers.N.ffn.experts.gate_up`, `layers.N.ffn.router`, `layers.N.ffn.shared.down`, `norm`, `lm_head`,
`mtp.N...`.

The forward passes exist to be traced by FLOP counters on meta tensors: static shapes, no `.item()`,
every product a `linear` or a 3-D `bmm` (no einsum, no broadcasting matmul), and the element-wise work
(norms, activations, gates, softmax, short convolutions) reduced to what keeps shapes right, since no
counter counts it.  Norms have no forward for that reason.  MTP modules are not run.
"""

from __future__ import annotations

import gc

# torch's import makes about a million objects (modules, functions, op registrations) that live as long as
# the process; the cyclic collector would walk every one of them several times while they are made (each
# full collection starts when a quarter more objects survive than at the last one), about a tenth of the
# import's time, so it is paused while torch loads. Frozen afterwards, they are never walked again by the
# collections that building and walking a model set off. Frozen objects are still freed by reference
# counting; only cycles that became garbage during the import (a bounded few) are never collected.
_collecting = gc.isenabled()
gc.disable()
try:
    import torch
    from torch import nn
    from torch.nn import functional as F

    from ..ir import LayerIR, ModelIR
    from ..mechanisms.layers import block_norm_names, layer_mechanisms, model_mechanisms
    from ..mechanisms.primitives import BlockState, Embedding, Linear, ModelState, Norm
finally:
    if _collecting:
        gc.enable()
gc.freeze()


class Layer(nn.Module):
    """One block: each mechanism's module under its slot (`attn`, `mixer`, `ffn`, `altup`, ...), each
    followed by the norms the block gives it, in the protocol's order."""

    def __init__(self, ir: ModelIR, layer: LayerIR) -> None:
        super().__init__()
        self.kind = layer.label
        self.parts = []  # the same modules in the order they run (a plain list: registered by slot below)
        for mechanism in layer_mechanisms(ir, layer):
            part = mechanism.module(ir.d_model)
            setattr(self, mechanism.slot, part)
            for name in block_norm_names(ir, mechanism):
                setattr(self, name, Norm(ir.d_model, ir.norm.bias))
            self.parts.append(part)

    def forward(self, x: torch.Tensor, ctx: int, layer_input: torch.Tensor | None = None) -> torch.Tensor:
        """x is (B, S, d), or (B, S, n, d) AltUp streams whose first is the one the layer runs on."""
        s = BlockState(x, ctx, layer_input)
        for part in self.parts:
            part.enter(s)
        s.h = s.x
        for part in self.parts:
            part.mix(s)
        for part in self.parts:
            part.feed(s)
        for part in reversed(self.parts):
            part.leave(s)
        return s.x if s.streams is None else s.streams


class MTPModule(nn.Module):
    def __init__(self, ir: ModelIR) -> None:
        super().__init__()
        assert ir.mtp is not None
        d = ir.d_model
        self.enorm = Norm(d, ir.norm.bias)
        self.hnorm = Norm(d, ir.norm.bias)
        self.eh_proj = Linear(2 * d, d)
        self.layer = Layer(ir, ir.mtp.layer)
        self.final_norm = Norm(d, ir.norm.bias)
        if ir.mtp.stores_embedding:
            self.embed_tokens = Embedding(ir.vocab_size, d)
        if ir.mtp.stores_head:
            self.head = Linear(d, ir.vocab_size)


class Model(nn.Module):
    def __init__(self, ir: ModelIR, with_mtp: bool = True) -> None:
        super().__init__()
        d = ir.d_model
        self.ir = ir
        self.embed_tokens = Embedding(ir.vocab_size, d)
        if ir.learned_positions:
            self.pos_embed = Embedding(ir.learned_positions, d)
        self.parts = []  # the model-level parts, in order (a plain list: their children are mounted below)
        for mechanism in model_mechanisms(ir):
            part = mechanism.model_module(d)
            if part is None:
                continue
            for name, child in part.named_children():
                self.add_module(name, child)  # under the checkpoint's name (`per_layer_embed`, `altup_in`)
            self.parts.append(part)
        self.layers = nn.ModuleList(Layer(ir, layer) for layer in ir.layers)
        self.norm = Norm(d, ir.norm.bias)
        self.lm_head = Linear(d, ir.vocab_size)
        if ir.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight  # one matrix, counted once
        if ir.mtp is not None and with_mtp:
            self.mtp = nn.ModuleList(MTPModule(ir) for _ in range(ir.mtp.n_modules))

    def forward(self, input_ids: torch.Tensor, ctx: int | None = None, last_token_logits: bool = False):
        """Logits for `input_ids` (B, S): prefill when S > 1 (ctx = S), or one decode step at context `ctx`."""
        S = input_ids.shape[1]
        ctx = S if ctx is None else ctx
        s = ModelState(input_ids, F.embedding(input_ids, self.embed_tokens.weight), [None] * len(self.layers))
        for part in self.parts:
            part.enter(s)
        for layer, layer_input in zip(self.layers, s.layer_inputs):
            s.x = layer(s.x, ctx, layer_input)
        for part in reversed(self.parts):
            part.leave(s)
        x = s.x[:, -1:] if last_token_logits else s.x
        return self.lm_head(x)


def build(ir: ModelIR, with_mtp: bool = True) -> Model:
    """The model of `ir` on the meta device; no memory for weights, no initialisation."""
    return Model(ir, with_mtp=with_mtp)
