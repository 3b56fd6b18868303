"""import-hf given a checkpoint folder: the spec it wrote, held against the shards' headers there."""

from __future__ import annotations

from pathlib import Path


def has_shards(folder: Path) -> bool:
    from ..verify.safetensors import INDEX_NAME

    return (folder / INDEX_NAME).is_file() or any(folder.glob("*.safetensors"))


def held_against_shards(text: str, name: str, folder: Path) -> tuple[bool, str]:
    """Whether the spec `text` agrees with the checkpoint in `folder`, and the line that says so (or, when they
    differ, how many tensors of each kind and the first few)."""
    from ..resolve import to_ir
    from ..validate import validate
    from ..verify import read_checkpoint
    from ..verify import verify as run_verify
    from ..yamlsafe import load_text

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
