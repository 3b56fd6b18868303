"""The mechanism protocol (llmarch/mechanisms/): each kind's weight table is what the meta build
holds, name for name and shape for shape, and the protocol's sums are hand-checkable."""

from __future__ import annotations

import dataclasses

import pytest

import llmarch
from conftest import SPEC_NAMES
from llmarch.mechanisms.layers import layer_weights, model_mechanisms


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_weight_tables_are_the_meta_build(name):
    """Every layer's weight table (its mechanisms' weights and the block's norms) names exactly the
    parameters the meta build creates, with their shapes; the model-level weights are the model's."""
    ir = llmarch.load(name)
    model = llmarch.build(ir, with_mtp=False)
    seen = set()
    for layer in ir.layers:
        key = dataclasses.replace(layer, index=0)
        if key in seen:
            continue
        seen.add(key)
        built = {n: tuple(p.shape) for n, p in model.layers[layer.index].named_parameters()}
        table = {w.name: w.shape for w in layer_weights(ir, layer)}
        assert table == built, f"layer {layer.index} ({layer.label})"
    built = {n: tuple(p.shape) for n, p in model.named_parameters()}
    for mechanism in model_mechanisms(ir):
        for w in mechanism.model_weights(ir.d_model):
            assert built.get(w.name) == w.shape, w.name
