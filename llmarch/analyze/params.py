"""Parameter counts in closed form over the IR (no torch).

Conventions (also in `conventions.py`, printed under every table):
- `total` counts every parameter once; a tied embedding/LM-head matrix once.
- `embedding` = the lookup tables: token, learned-position, per-layer and n-gram embeddings.
- `active` = the parameters one token multiplies: everything but the lookup
  tables, routed experts scaled by top_k / n_experts, the LM head (a tied
  matrix counts here, once, as the LM head).  MTP modules are excluded.
- `active_incl_embeddings` = active + the lookup tables (a tied matrix still once).
- `active_fewest` = active when a token meets the fewest real experts its routing allows (with zero-computation
  experts, top_k - zero_experts or none; `active` counts top_k real ones).
- Buffers such as DeepSeek's `e_score_correction_bias` are not parameters (as in
  transformers); they are reported separately under `buffers`.
The module walk in `params_module.py` must agree with this file exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..ir import LayerIR, ModelIR
from ..kinds import PARAMETER_COMPONENTS
from ..mechanisms.base import by_component
from ..mechanisms.layers import block_norms, layer_mechanisms, model_mechanisms
from ..spec.yamlsafe import Located

COMPONENTS = PARAMETER_COMPONENTS
LOOKUP_COMPONENTS = ("token_embedding", "position_embedding", "per_layer_embedding", "ngram_embedding")


@dataclass
class ParamCount:
    by_component: dict[str, int]
    active_by_component: dict[str, int]
    mtp: int = 0
    buffers: int = 0
    tied: bool = False
    # the active parameters when a token meets the fewest real experts its routing allows (zero-computation
    # experts, LongCat): `active` is the most; None where the two are equal
    fewest: Optional[int] = None

    @property
    def active_fewest(self) -> int:
        return self.active if self.fewest is None else self.fewest

    @property
    def total(self) -> int:
        return sum(self.by_component.values())

    @property
    def embedding(self) -> int:
        return sum(self.by_component[c] for c in LOOKUP_COMPONENTS)

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding

    @property
    def active(self) -> int:
        return sum(self.active_by_component.values())

    @property
    def active_incl_embeddings(self) -> int:
        lookup = self.embedding
        if self.tied:  # the tied matrix is already in `active`, as the LM head
            lookup -= self.by_component["token_embedding"]
        return self.active + lookup

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "active": self.active,
            "active_incl_embeddings": self.active_incl_embeddings,
            "active_fewest": self.active_fewest,
            "embedding": self.embedding,
            "non_embedding": self.non_embedding,
            "by_component": dict(self.by_component),
            "active_by_component": dict(self.active_by_component),
            "mtp": self.mtp,
            "buffers": self.buffers,
            "tied_embeddings": self.tied,
        }


def norm_params(ir: ModelIR, dim: int) -> int:
    return dim * (2 if ir.norm.bias else 1)  # weight, and a bias when the spec asks for one (any norm kind)


# what a layer can hold: neither the lookup tables, nor the n-gram projections (model-level), nor the LM head
LAYER_COMPONENTS = tuple(c for c in COMPONENTS if c not in (*LOOKUP_COMPONENTS, "ngram_projection", "lm_head"))


def layer_counts(ir: ModelIR, layer: LayerIR) -> tuple[dict[str, int], dict[str, int]]:
    """Parameters of one layer by component (the block's norms included), and the active part of them:
    the sum of its mechanisms' weight tables."""
    total = dict.fromkeys(LAYER_COMPONENTS, 0)
    active = dict.fromkeys(LAYER_COMPONENTS, 0)
    for mechanism in layer_mechanisms(ir, layer):
        own = by_component(mechanism.weights(ir.d_model))
        for k, v in own.items():
            total[k] += v
        for k, v in mechanism.active(own).items():
            active[k] += v
        norms = sum(w.entries for w in block_norms(ir, mechanism))
        total["norms"] += norms
        active["norms"] += norms
    return total, active


def layer_params(ir: ModelIR, layer: LayerIR) -> dict[str, int]:
    """Parameters of one layer, by component (norms included)."""
    return layer_counts(ir, layer)[0]


def mtp_params(ir: ModelIR) -> int:
    """One MTP module: two input norms, the 2d -> d projection, a layer, a final norm, stored copies."""
    if ir.mtp is None:
        return 0
    d = ir.d_model
    per_module = (
        2 * norm_params(ir, d)  # enorm, hnorm
        + 2 * d * d  # eh_proj, no bias
        + sum(layer_params(ir, ir.mtp.layer).values())
        + norm_params(ir, d)  # shared_head.norm
    )
    if ir.mtp.stores_embedding:
        per_module += ir.vocab_size * d
    if ir.mtp.stores_head:
        per_module += ir.vocab_size * d
    return ir.mtp.n_modules * per_module


def count_params(ir: ModelIR) -> ParamCount:
    d = ir.d_model
    total = dict.fromkeys(COMPONENTS, 0)
    active = dict.fromkeys(COMPONENTS, 0)
    buffers = below = 0  # below: what a token meeting the fewest real experts multiplies less
    total["token_embedding"] = ir.vocab_size * d
    if ir.learned_positions:
        total["position_embedding"] = ir.learned_positions * d
    for mechanism in model_mechanisms(ir):
        for k, v in by_component(mechanism.model_weights(d)).items():
            total[k] += v
            if k not in LOOKUP_COMPONENTS:
                active[k] += v
    for layer, n in ir.layer_groups:  # equal layers counted once, times how many there are
        layer_total, layer_active = layer_counts(ir, layer)
        for k, v in layer_active.items():
            active[k] += n * v
        for k, v in layer_total.items():
            total[k] += n * v
        buffers += n * sum(m.buffers() for m in layer_mechanisms(ir, layer))
        for mechanism in layer_mechanisms(ir, layer):
            own = by_component(mechanism.weights(d))
            below += n * (sum(mechanism.active(own).values()) - sum(mechanism.active_fewest(own).values()))
    final_norm = norm_params(ir, d)
    total["norms"] += final_norm
    active["norms"] += final_norm
    if ir.tie_embeddings:
        active["lm_head"] = total["token_embedding"]
    else:
        total["lm_head"] = ir.vocab_size * d
        active["lm_head"] = total["lm_head"]
    return ParamCount(
        by_component=total,
        active_by_component=active,
        mtp=mtp_params(ir),
        buffers=buffers,
        tied=ir.tie_embeddings,
        fewest=sum(active.values()) - below if below else None,
    )


def check_size(ir: ModelIR, located: Located) -> None:
    """Refuse, at the spec's line, a model of more than MAX_TOTAL_PARAMS parameters (every analysis is bounded
    by it) and a reference adjustment that removes more than the whole model (which would turn any published
    figure into a pass or a nonsense fail).  Run on every resolved spec (api.load, import-hf, verify): resolve,
    in the spec layer, cannot count."""
    from ..limits import MAX_TOTAL_PARAMS

    err = located.error
    total = count_params(ir).total
    if total > MAX_TOTAL_PARAMS:
        raise err((), f"the model would have {total:,} parameters, more than the limit of {MAX_TOTAL_PARAMS:,}")
    for i, r in enumerate(ir.references):
        for j, (_, what, params) in enumerate(r.adjustments):
            # an adjustment removes a part of the model (or adds one outside it); it cannot remove more
            # than the whole model
            if params < 0 and -params > total:
                raise err(
                    ("reference", i, "adjustments", j, "params"),
                    f"removes {-params:,} parameters, more than the model's {total:,} (`{what}`)",
                )
