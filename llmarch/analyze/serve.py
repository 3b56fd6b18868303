"""Will it fit, and how fast can it decode: memory per GPU and roofline bounds (closed form, no torch).

Conventions (printed under every table):
- Weights at the format the checkpoint ships (spec `weights:`), or one format for all (`--weights`);
  packed formats count their scales.  Tensor parallelism (TP) splits attention, dense FFN, shared experts,
  embedding and LM head; routed experts are split over TP x EP; norms and routers are replicated.
- KV cache per GPU: KV heads split over TP ranks, replicated when fewer than the ranks; MLA's latent is
  replicated on every rank; linear/SSM state is split by heads.
- An allowance of max(2 GiB, 8% of memory) is kept for activations and workspace.
- Roofline: a decode step reads the active weights and the KV cache; its time is at least bytes /
  bandwidth and FLOPs / dense peak; the larger bound binds.  For MoE at batch B the experts read are
  the expected number of distinct experts hit under uniform independent routing, E (1 - (1 - k/E)^B).
- Training memory is out of scope.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ParameterError, did_you_mean, shorten
from ..ir import ModelIR
from ..mechanisms.layers import layer_mechanisms, layer_mixer
from . import flops as F
from .kvcache import dtype_bytes, kv_cache
from .params import LOOKUP_COMPONENTS, count_params
from .weights import BYTES_PER_PARAM

HARDWARE_DIR = Path(__file__).parent / "hardware"
CONVENTIONS = {
    "weights": "the shipped format (scales included) unless --weights; TP splits attention, dense FFN, shared experts, embedding and LM head; routed experts split over TP x EP; norms and routers replicated",
    "kv": "KV heads split over TP, replicated when fewer than the ranks; MLA latent replicated on every rank; linear/SSM state split by heads",
    "allowance": "max(2 GiB, 8% of GPU memory) kept for activations and workspace",
    "roofline": "step time >= max(bytes read / bandwidth, FLOPs / dense peak); tokens/s <= batch / step time",
    "bytes_read": "a decode step reads every weight once (experts: those the batch hits) except lookup tables, which are read a row per token; a tied embedding is read whole as the LM head; plus the KV cache",
    "moe_routing": "experts read at batch B: E (1 - (1 - k/E)^B), uniform independent routing",
    "longest_context": "the longest context whose KV fits beside the weights and allowance, capped at the model's context length (max_ctx_limited_by: context_length or memory)",
    "scope": "inference only; training memory is out of scope",
}


def table_conventions(results: list[ServeResult]) -> dict[str, str]:
    """The lines under serve's table (JSON keeps them all): the experts-read line only where a model of it
    routes over experts (`experts_read_per_layer` is None for the others)."""
    routed = any(r.decode_roofline.experts_read_per_layer is not None for r in results)
    return {k: v for k, v in CONVENTIONS.items() if k != "moe_routing" or routed}


class GPU(BaseModel):
    # no NaN or infinity: they turn the roofline into NaN and its verdict into whichever comparison NaN
    # happens to lose (booleans, which pydantic would read as 1, are refused in `load_gpu`)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str
    display_name: str
    memory_bytes: int = Field(gt=0)
    # at least 1 MB/s and 1 MFLOP/s: anything slower is a typo, and far smaller values overflow the roofline's
    # times to infinity, which is not valid JSON
    bandwidth_bytes_per_s: float = Field(ge=1e6)
    peak_flops: dict[str, float]
    source: str


def load_gpu(name_or_path: str) -> GPU:
    from ..spec.registry import is_file, looks_like_path
    from ..spec.yamlsafe import load_file

    path = Path(name_or_path)
    if not looks_like_path(name_or_path):
        path = HARDWARE_DIR / f"{name_or_path}.yaml"
        if not is_file(path):
            known = sorted(p.stem for p in HARDWARE_DIR.glob("*.yaml"))
            hint = did_you_mean(name_or_path, known, n=2)
            raise ParameterError(
                "unknown {gpu} `{name}`{hint} (known: {known}; or a YAML profile file)",
                name=shorten(name_or_path),
                hint=f"; {hint}" if hint else "",
                known=", ".join(known),
            )
    located = load_file(path)
    for key, value in located.data.items():
        for sub, v in value.items() if isinstance(value, dict) else [(None, value)]:
            if isinstance(v, bool):
                where = (key,) if sub is None else (key, sub)
                raise located.error(where, f"expected a number, got {str(v).lower()}")
    try:
        gpu = GPU.model_validate(located.data)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        got = f", got {e['input']!r}" if e["type"] not in ("missing", "extra_forbidden") else ""
        raise located.error(tuple(e["loc"]), e["msg"].lower() + got) from None
    if any(v < 1e6 for v in gpu.peak_flops.values()) or "bf16" not in gpu.peak_flops and "fp16" not in gpu.peak_flops:
        raise located.error(("peak_flops",), "needs dense peaks of at least 1e6 FLOP/s, at least bf16 or fp16")
    return gpu


def hardware_names() -> list[str]:
    return sorted(p.stem for p in HARDWARE_DIR.glob("*.yaml"))


@dataclass
class Plan:
    gpus: int
    tp: int
    ep: int


def check_plan(ir: ModelIR, plan: Plan) -> None:
    if plan.tp < 1 or plan.ep < 1 or plan.gpus < 1:
        raise ParameterError("{gpus}, {tp} and {ep} must be at least 1")
    # parameter names in braces: the CLI words them as its flags (`tp` -> `--tp`)
    if plan.tp * plan.ep != plan.gpus:
        raise ParameterError(f"{{tp}} {plan.tp} x {{ep}} {plan.ep} must equal {{gpus}} {plan.gpus} (one model replica)")
    for layer in ir.layers:
        for mechanism in layer_mechanisms(ir, layer):
            problem = mechanism.parallel_error(plan.tp, plan.ep, ir.name, layer.mixer)
            if problem:  # a template: {tp}/{ep} are worded as the CLI's flags, {model} is the model's name
                raise ParameterError(problem, model=ir.name)
    if plan.ep > 1 and not _routed(ir):
        raise ParameterError(f"{{ep}} {plan.ep}: {{model}} has no experts to split", model=ir.name)


def _routed(ir: ModelIR) -> list:
    """The mechanisms with routed experts, one per layer that has them, in layer order."""
    return [m for layer in ir.layers for m in layer_mechanisms(ir, layer) if m.experts]


def kv_per_gpu(ir: ModelIR, ctx: int, batch: int, kv_dtype: str, tp: int) -> int:
    total = 0
    for row in kv_cache(ir, ctx, batch, kv_dtype).rows:
        if row.key[0] == "shared":
            continue  # layers that reuse another layer's KV hold none of their own
        layer = next(l for l in ir.layers if l.mixer == row.key[0])  # rows are keyed by mixer kind first
        share = layer_mixer(ir, layer).cache_share(tp)  # how the kind splits its cache across ranks
        total += int(row.bytes * batch * share)
    return total


def weights_per_gpu(ir: ModelIR, fmt: str | None, plan: Plan) -> dict[str, int]:
    count = count_params(ir)
    overrides = {} if fmt else dict(ir.weight_overrides)
    default = fmt or ir.weight_dtype
    out = {}
    for comp, n in count.by_component.items():
        b = n * BYTES_PER_PARAM[overrides.get(comp, default)]
        if comp == "routed_experts":
            b /= plan.tp * plan.ep
        elif comp not in ("norms", "router"):
            b /= plan.tp
        out[comp] = int(b)
    return out


@dataclass(frozen=True)
class MemoryPerGPU:
    weights_bytes: int
    weights_by_component: dict[str, int]
    kv_bytes: int
    allowance_bytes: int
    total_bytes: int
    capacity_bytes: int


@dataclass(frozen=True)
class DecodeRoofline:
    bytes_per_step_per_gpu: int
    flops_per_step_per_gpu: int
    memory_time_s: float
    compute_time_s: float
    step_time_lower_bound_s: float
    binding: str  # "memory bandwidth" or "compute"
    arithmetic_intensity: Optional[float]
    tokens_per_s_upper_bound: Optional[float]
    experts_read_per_layer: Optional[float]  # None without routed experts


@dataclass(frozen=True)
class PrefillRoofline:
    tokens: int
    flops_per_gpu: int
    time_lower_bound_s: float
    binding: str


@dataclass(frozen=True)
class ServeResult:
    """One model served on one hardware profile and plan: memory per GPU, the verdict, the roofline bounds."""

    name: str
    display_name: str
    gpu: str
    gpus: int
    tp: int
    ep: int
    ctx_tokens: int
    batch: int
    weight_format: str
    kv_dtype: str
    memory_per_gpu: MemoryPerGPU
    fits: bool
    max_batch_at_ctx: Optional[int]  # None: the model holds no per-sequence cache (unbounded)
    max_ctx_at_batch: int  # capped at the model's context length
    max_ctx_limited_by: str  # "context_length" (the cap) or "memory"
    decode_roofline: DecodeRoofline
    prefill_roofline: PrefillRoofline
    edits: Optional[dict] = None  # the model's what-if edits (ModelIR.edit_fields); None when unedited

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if out["edits"] is None:
            del out["edits"]  # an unedited model's answer is as it always was
        return out


def serve(
    ir: ModelIR,
    gpu: GPU,
    plan: Plan,
    ctx: int,
    batch: int,
    weights: str = "shipped",
    kv_dtype: str = "bf16",
    seq: Optional[int] = None,
) -> ServeResult:
    check_plan(ir, plan)
    fmt = None if weights == "shipped" else {"int4": "int4_g32"}.get(weights, weights)
    if fmt is not None and fmt not in BYTES_PER_PARAM:
        raise ParameterError(
            "unknown {weights} `{text}`; one of: shipped, bf16, fp8, mxfp4, int4", text=shorten(weights)
        )
    dtype_bytes(kv_dtype)
    w = weights_per_gpu(ir, fmt, plan)
    weight_total = sum(w.values())
    allowance = max(2 << 30, int(0.08 * gpu.memory_bytes))
    kv = kv_per_gpu(ir, ctx, batch, kv_dtype, plan.tp)
    used = weight_total + kv + allowance
    free_for_kv = gpu.memory_bytes - weight_total - allowance
    per_seq = kv_per_gpu(ir, ctx, 1, kv_dtype, plan.tp)
    max_batch = max(0, free_for_kv // per_seq) if per_seq else None
    # the cache could hold more tokens than the model reads: the model's context length is then the limit
    max_ctx = _longest_context(ir, batch, kv_dtype, plan.tp, free_for_kv)
    max_ctx_limit = "context_length" if max_ctx >= ir.context_length else "memory"
    max_ctx = min(max_ctx, ir.context_length)

    # decode step: weights read once per step (experts: those the batch hits), KV read for every sequence
    # lookup tables are read a row per token, not whole; a tied embedding is read whole as the LM head
    dense_bytes = sum(v for k, v in w.items() if k != "routed_experts" and k not in LOOKUP_COMPONENTS)
    if ir.tie_embeddings:
        dense_bytes += w["token_embedding"]
    expert_read = 0
    routed = _routed(ir)
    if routed:  # the first expert layer's routing stands for all of them
        hit = routed[0].experts_hit(batch)
        expert_read = int(w["routed_experts"] * hit / routed[0].experts)
    step_bytes = dense_bytes + expert_read + kv
    dec = F.decode(ir, ctx, batch)
    step_flops = dec.flops / plan.gpus
    peak = gpu.peak_flops.get("bf16") or gpu.peak_flops["fp16"]
    t_mem = step_bytes / gpu.bandwidth_bytes_per_s
    t_compute = step_flops / peak
    step = max(t_mem, t_compute)
    prefill_tokens = seq or ctx
    pre = F.prefill(ir, prefill_tokens, batch)
    t_pre_compute = pre.flops / plan.gpus / peak
    t_pre_mem = (
        dense_bytes + w["routed_experts"] + kv_per_gpu(ir, prefill_tokens, batch, kv_dtype, plan.tp)
    ) / gpu.bandwidth_bytes_per_s
    return ServeResult(
        name=ir.name,
        display_name=ir.display_name,
        gpu=gpu.name,
        gpus=plan.gpus,
        tp=plan.tp,
        ep=plan.ep,
        ctx_tokens=ctx,
        batch=batch,
        weight_format=weights,
        kv_dtype=kv_dtype,
        memory_per_gpu=MemoryPerGPU(
            weights_bytes=weight_total,
            weights_by_component=w,
            kv_bytes=kv,
            allowance_bytes=allowance,
            total_bytes=used,
            capacity_bytes=gpu.memory_bytes,
        ),
        fits=used <= gpu.memory_bytes,
        max_batch_at_ctx=max_batch,
        max_ctx_at_batch=max_ctx,
        max_ctx_limited_by=max_ctx_limit,
        decode_roofline=DecodeRoofline(
            bytes_per_step_per_gpu=step_bytes,
            flops_per_step_per_gpu=int(step_flops),
            memory_time_s=t_mem,
            compute_time_s=t_compute,
            step_time_lower_bound_s=step,
            binding="memory bandwidth" if t_mem >= t_compute else "compute",
            arithmetic_intensity=step_flops / step_bytes if step_bytes else None,
            tokens_per_s_upper_bound=batch / step if step else None,
            experts_read_per_layer=round(routed[0].experts_hit(batch), 3) if routed else None,
        ),
        prefill_roofline=PrefillRoofline(
            tokens=prefill_tokens,
            flops_per_gpu=int(pre.flops / plan.gpus),
            time_lower_bound_s=max(t_pre_compute, t_pre_mem),
            binding="compute" if t_pre_compute >= t_pre_mem else "memory bandwidth",
        ),
        edits=ir.edit_fields().get("edits"),
    )


def _longest_context(ir: ModelIR, batch: int, kv_dtype: str, tp: int, free: int) -> int:
    if free <= 0:
        return 0
    lo, hi = 0, 1 << 24
    if kv_per_gpu(ir, hi, batch, kv_dtype, tp) <= free:
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if kv_per_gpu(ir, mid, batch, kv_dtype, tp) <= free:
            lo = mid
        else:
            hi = mid - 1
    return lo
