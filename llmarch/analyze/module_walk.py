"""Parameter counts by walking a meta-built module: the independent check of `params.py`.

Each parameter is assigned to a component from its place in the module tree
(not from the IR), shared tensors are counted once, buffers are not parameters.
"""

from __future__ import annotations

from .params import COMPONENTS, ParamCount


def component_of(name: str) -> str:
    parts = name.split(".")
    head = parts[0]
    if head == "embed_tokens":
        return "token_embedding"
    if head == "pos_embed":
        return "position_embedding"
    if head == "per_layer_embed":
        return "per_layer_embedding"
    if head == "ngram_embed":
        return "ngram_embedding"
    if head == "ngram_proj":
        return "ngram_projection"
    if head == "lm_head":
        return "lm_head"
    if head in ("norm", "input_scale") or head.endswith("_norm"):  # input_scale: per-channel scale and shift
        return "norms"
    if head == "mtp":
        return "mtp"
    if head == "per_layer_input":
        return "per_layer_input"
    if head in ("altup_in", "altup_out"):
        return "altup"
    if head == "hc_head":
        return "hyper_connections"
    if head == "layers":
        sub = parts[2]
        if sub.endswith("_norm") or sub in ("layer_scalar", "residual_scale"):  # Gemma 4's output scalar (a
            # buffer); ZAYA's per-channel residual scales and shifts
            return "norms"
        if sub == "attn":
            return "attention"
        if sub == "mixer":
            return "linear_mixer"
        if sub in ("per_layer_input", "altup", "laurel"):
            return sub
        if sub == "hc":
            return "hyper_connections"
        if sub == "ffn":
            rest = parts[3:]
            if rest and rest[0] == "moe":  # the experts beside a dense FFN (Gemma 4's parallel FFN)
                rest = rest[1:]
            if rest and rest[0].endswith("_norm"):
                return "norms"
            if rest and rest[0] in ("router", "router_correction", "router_scale", "per_expert_scale"):
                return "router"
            if rest and rest[0] == "experts":
                return "routed_experts"
            if rest and rest[0] in ("shared", "shared_gate"):
                return "shared_experts"
            return "dense_ffn"
    raise ValueError(f"parameter `{name}` has no component")


def module_params(model) -> ParamCount:
    """Count a model built by `meta.build` (or any module using its naming)."""
    total = dict.fromkeys(COMPONENTS, 0)
    active = dict.fromkeys(COMPONENTS, 0)
    mtp = below = 0  # below: what a token meeting the fewest real experts multiplies less
    seen: set[int] = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            continue  # a tied matrix: counted once, where it first appears
        seen.add(id(p))
        comp = component_of(name)
        n = p.numel()
        if comp == "mtp":
            mtp += n
            continue
        total[comp] += n
        if comp == "routed_experts":
            # the module holding the stacked experts says how much of them a token multiplies
            experts = model.get_submodule(name.rpartition(".")[0])
            active[comp] += experts.active(n)
            below += experts.active(n) - experts.fewest(n)
        else:
            active[comp] += n
    tied = model.lm_head.weight is model.embed_tokens.weight
    if tied:
        active["lm_head"] = active["token_embedding"]
    for lookup in ("token_embedding", "position_embedding", "per_layer_embedding", "ngram_embedding"):
        active[lookup] = 0
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.startswith("mtp."))
    fewest = sum(active.values()) - below if below else None
    return ParamCount(
        by_component=total, active_by_component=active, mtp=mtp, buffers=buffers, tied=tied, fewest=fewest
    )
