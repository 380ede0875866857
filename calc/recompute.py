"""Activation recomputation in a training step: which operations run their forward again.

A training step with recomputation (gradient checkpointing) discards activations after the
forward pass and recomputes them in the backward pass, so the step costs its training FLOPs
plus the forward FLOPs of what is recomputed, priced by the same convention:

    none       nothing recomputed: the convention's training step
    selective  the attention's score-shaped part: q k^T, its scale, mask, softmax, and the
               weighted sum of V (Korthikanti et al. 2022, "Reducing Activation Recomputation in
               Large Transformer Models", arXiv:2205.05198, sec. 4.2: "we only checkpoint and
               recompute [...] the QK^T matrix multiply, softmax, softmax dropout, and attention
               over V"; PaLM's 8B and 62B models, arXiv:2204.02311 appendix B: "do not use
               re-materialization except in the self-attention": 6N + 16 L H Q T per token)
    full       every operation except the embeddings (lookups: the backward does not need their
               forward again) and the output layer (`role: lm_head`): the layers are recomputed,
               the logits are not (Narayanan et al. 2021, arXiv:2104.04473, eq. 3: the layers
               4 x forward, the logits 3 x)

A convention states which recomputation its training figure already includes
(`Convention.recompute`: megatron-2021's eq. 3 is the full one), or None when its tool's
recomputation is not emulated (PyTorch's FlopCounterMode: a non-reentrant checkpoint stops
recomputing once every saved tensor exists, docs/notes/training-oracle.md sec. 2).
"""

from __future__ import annotations

from typing import Any

from calc.errors import ConventionError, UsageError

POLICIES = ("none", "selective", "full")

LOOKUPS = frozenset({"embedding", "position_lookup", "position_embedding", "class_token"})
"""Operations that look up or add learned tables: not recomputed by `full`."""


def check_policy(policy: Any, mode: str) -> str | None:
    """`policy` as given, checked: None (the convention's own), or one of POLICIES; other than
    'none' only for a training step."""
    if policy is None:
        return None
    if not isinstance(policy, str) or policy not in POLICIES:
        raise UsageError(f"unknown recomputation {policy!r}", expected=" or ".join(POLICIES))
    if policy != "none" and mode != "training":
        raise UsageError(f"recomputation '{policy}' is part of a training step, not of {mode}",
                         expected="mode 'training' (calc: --mode training), or recompute 'none'")
    return policy


def top_up(convention: Any, policy: str | None) -> bool:
    """Whether a training step under `convention` with `policy` adds the recomputed operations'
    forward FLOPs to the convention's training rule: False for None (the convention's own) and
    for the recomputation its rule already includes; a `ConventionError` for one its source
    does not define, or one that contradicts what its rule includes."""
    if policy is None:
        return False
    choices = convention.recompute_choices or POLICIES
    if policy not in choices:
        raise ConventionError(
            f"convention '{convention.name}' defines no '{policy}' recomputation: "
            + convention.recompute_note, expected="recompute " + " or ".join(f"'{c}'" for c in choices))
    own = convention.recompute
    if own == policy:
        return False
    if own != "none":
        raise ConventionError(
            f"convention '{convention.name}' prices a training step with {own} recomputation by "
            f"definition, not {policy}", expected=f"recompute '{own}' (its own)")
    return policy != "none"


def score_shaped(layer: Any) -> bool:
    """Whether an operation is an attention part whose output is score-shaped (N, H, T, S): q k^T,
    its scale, mask and softmax.  Selective recomputation stores none of these tensors (calc
    memory) and runs them again, with the weighted sum that reads them (FLOPs)."""
    from calc.layers.attention import ScoreMap, Scores

    return isinstance(layer, (Scores, ScoreMap))


def is_recomputed(policy: str, layer: Any, op: str, with_head: bool = False) -> bool:
    """Whether an operation's forward runs again in the backward pass under `policy`: its spec
    record `layer`, its operation name `op`, and whether the convention's full recomputation
    includes the LM head (`role: lm_head`; `Convention.recompute_head`)."""
    if policy == "selective":
        from calc.layers.attention import Context

        return score_shaped(layer) or isinstance(layer, Context)
    if policy == "full":
        head = getattr(layer, "role", None) == "lm_head"
        return (with_head or not head) and op not in LOOKUPS
    return False
