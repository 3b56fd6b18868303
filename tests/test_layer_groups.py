"""`ModelIR.layer_groups`: params, flops and kvcache count each distinct layer once and multiply by how many
layers equal it but for their position.  That holds only while nothing a layer counts, costs or caches
depends on its position; these tests evaluate every layer itself and compare it with its group's first
layer, so a mechanism that reads `layer.index` (a per-layer table kept outside LayerIR, a position-dependent
rule) fails here instead of being silently multiplied."""

from __future__ import annotations

import dataclasses

import pytest

import llmarch
from conftest import SPEC_NAMES
from llmarch.analyze.flops import layer_macs
from llmarch.analyze.params import layer_counts
from llmarch.mechanisms.layers import layer_mixer

PREFILL, DECODE_CTX = 512, 8192


def per_layer_answers(ir, layer) -> tuple:
    """What the analyzers take from one layer: its parameters (total, active), the MACs of a prefill and of a
    decode step, and its cache row."""
    mixer = layer_mixer(ir, layer)
    row = mixer.cache_row(layer.mixer, DECODE_CTX, 2, 4) if mixer is not None else None
    return (
        layer_counts(ir, layer),
        layer_macs(ir, layer, PREFILL, 0),
        layer_macs(ir, layer, 1, DECODE_CTX),
        row and dataclasses.astuple(row),
    )


def position_dependence(ir, answers=per_layer_answers) -> list[str]:
    """Layers whose answers differ from their group's first layer's."""
    first = {layer.shape_key(): layer for layer, _ in ir.layer_groups}
    out = []
    for layer in ir.layers:
        rep = first[layer.shape_key()]
        if layer is not rep and answers(ir, layer) != answers(ir, rep):
            out.append(f"layer {layer.index} differs from layer {rep.index}, which it equals but for its position")
    return out


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_equal_layers_count_cost_and_cache_the_same(name):
    ir = llmarch.load(name)
    assert sum(n for _, n in ir.layer_groups) == ir.n_layers
    assert not position_dependence(ir)


def test_the_check_finds_a_position_dependent_answer():
    ir = llmarch.load("qwen3-8b")
    assert len(ir.layer_groups) == 1  # 36 equal layers

    def reads_the_position(ir, layer):
        return per_layer_answers(ir, layer) + (layer.index % 2,)  # e.g. a table indexed by position

    found = position_dependence(ir, reads_the_position)
    assert found[0] == "layer 1 differs from layer 0, which it equals but for its position"
    assert len(found) == ir.n_layers // 2
