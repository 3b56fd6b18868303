"""import-hf given a checkpoint folder: the spec it wrote, held against the shards' headers there."""

from __future__ import annotations

from pathlib import Path


def has_shards(folder: Path) -> bool:
    from ..checkpoints.safetensors import INDEX_NAME

    return (folder / INDEX_NAME).is_file() or any(folder.glob("*.safetensors"))


def held_against_shards(text: str, name: str, folder: Path) -> tuple[bool, str]:
    """Whether the spec `text` agrees with the checkpoint in `folder`, and the line that says so (or, when they
    differ, how many tensors of each kind and the first few)."""
    from ...spec.resolve import to_ir
    from ...spec.validate import validate
    from ...spec.yamlsafe import load_text
    from ..checkpoints import read_checkpoint
    from ..checkpoints import verify as run_verify

    located = load_text(text, f"{name}.yaml")
    answer = run_verify(to_ir(validate(located), located), read_checkpoint(str(folder)))
    counts = {k: len(getattr(answer, k)) for k in ("missing", "unexpected", "shape_differences", "dtype_differences")}
    if answer.agree:
        return True, f"verified against {folder}: all {answer.tensors['expected']:,} tensors agree"
    detail = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
    first = (answer.missing + answer.unexpected + [d["tensor"] for d in answer.shape_differences])[:3]
    return False, (
        f"the spec differs from the checkpoint in {folder}: {detail} (first: {', '.join(first) or 'dtypes'}); "
        f"run `llmarch verify SPEC {folder}` for the list"
    )
