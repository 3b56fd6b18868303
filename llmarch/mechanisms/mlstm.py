"""xLSTM's mLSTM (xLSTM 7B): per head a matrix memory C (qk x v) and a normaliser n (qk), decayed by a scalar
forget gate and written with a scalar input gate, C_t = f_t C_{t-1} + i_t k_t v_t^T, n_t = f_t n_{t-1} + i_t k_t;
the output h_t = C_t^T q_t / max(|n_t . q_t|, exp(-m_t)) through a per-head norm and a sigmoid output gate.

A fixed recurrent state like the other linear mixers: per head qk x v + qk + 1 (the running max m) elements,
whatever the context.  The chunked form is Mamba-2's SSD with the normaliser as one more value column."""

from __future__ import annotations

from ..ir import MlstmIR
from .base import Box, CacheRow, Mechanism, Weight, linear, norm
from .recurrence import chunks, mlstm_chunk


class MatrixLSTM(Mechanism):
    slot = "mixer"
    norm_prefix = "mixer"
    conventions = ("state", "linear_attention")  # kvcache's fixed-state line, flops' chunked-algorithm line

    def __init__(self, m: MlstmIR) -> None:
        self.ir = m

    def module(self, d_model: int):
        from .mlstm_torch import MatrixLSTMModule

        return MatrixLSTMModule(d_model, self.ir)

    def box(self) -> Box:
        m = self.ir
        notes = (
            ("heads", f"{m.n_heads} heads"),
            ("head_dim", f"head dim qk {m.qk_head_dim} / v {m.v_head_dim}"),
            ("state", f"matrix memory {m.qk_head_dim} x {m.v_head_dim} per head, input and forget gates"),
            ("kv", "fixed-size state, no KV cache"),
        )
        return Box("mixer", "mLSTM (matrix memory)", notes, "mLSTM (matrix memory)", (("mixer", "mLSTM"),))

    @property
    def qk_dim(self) -> int:
        return self.ir.n_heads * self.ir.qk_head_dim

    @property
    def v_dim(self) -> int:
        return self.ir.n_heads * self.ir.v_head_dim

    def weights(self, d_model: int) -> list[Weight]:
        m, p = self.ir, f"{self.slot}."
        out = linear(f"{p}q", d_model, self.qk_dim, "linear_mixer", m.bias)
        out += linear(f"{p}k", d_model, self.qk_dim, "linear_mixer", m.bias)
        out += linear(f"{p}v", d_model, self.v_dim, "linear_mixer", m.bias)
        out += linear(f"{p}ogate", d_model, self.v_dim, "linear_mixer", m.bias)
        # one input and one forget gate per head, always with a bias (their preactivations are soft-capped)
        out += linear(f"{p}igate", d_model, m.n_heads, "linear_mixer", True)
        out += linear(f"{p}fgate", d_model, m.n_heads, "linear_mixer", True)
        out += norm(f"{p}head_norm", self.v_dim, "linear_mixer", m.bias)  # a LayerNorm per head
        return out + linear(f"{p}out_proj", self.v_dim, d_model, "linear_mixer", m.bias, split="row")

    def state_elements(self) -> int:
        """Per layer and sequence: each head's memory C (qk x v), normaliser n (qk) and running max m."""
        m = self.ir
        return m.n_heads * (m.qk_head_dim * m.v_head_dim + m.qk_head_dim + 1)

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        m = self.ir
        formula = f"{m.n_heads} x ({m.qk_head_dim} x {m.v_head_dim} + {m.qk_head_dim} + 1) x {state_bytes} B"
        rec = self.state_elements()
        return CacheRow((kind, rec), "mLSTM memory", 0, 0, int(rec * state_bytes), formula)

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        m = self.ir
        dk, dv = m.qk_head_dim, m.v_head_dim
        if S == 1:  # C += k [v 1]^T, then q^T [C n]
            return {"linear_recurrence": m.n_heads * 2 * dk * (dv + 1)}
        per_head = sum(n * mlstm_chunk(c, dk, dv) for c, n in chunks(S))
        return {"linear_recurrence": m.n_heads * per_head}
