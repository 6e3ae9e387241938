"""A SASRec-style causal self-attention encoder over a user's ordered item history (Kang & McAuley, ICDM 2018;
post-LayerNorm blocks and GELU as in RecBole's SASRec)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SASRecEncoder(nn.Module):
    """Causal Transformer over item vectors: the output at position t is the user state after item t.

    Sequences are right-padded (real items first); positions count from the start of the (truncated) history,
    or from its end with ``reverse_positions`` (position 0 = the most recent item).

    Args:
        dim: model width d (= item vector width).
        max_len: longest history L (learned positional embeddings ``[L, d]``).
        num_layers: Transformer blocks.
        num_heads: attention heads.
        inner_dim: feed-forward width (default ``4 * d``).
        dropout: dropout on the input embeddings, attention weights and residual branches.
        pre_norm: pre-LayerNorm blocks (original SASRec) instead of post-LN (RecBole).
        scale_input: multiply item vectors by ``sqrt(d)`` before adding positions (original SASRec).
        reverse_positions: position embeddings indexed from the end of the history.

    Shapes:
        forward(items ``[B, T, d]``, lengths ``[B]``) -> ``[B, T, d]``.
    """

    def __init__(self, dim: int, max_len: int = 50, *, num_layers: int = 2, num_heads: int = 1,
                 inner_dim: int | None = None, dropout: float = 0.2, pre_norm: bool = False,
                 scale_input: bool = False, reverse_positions: bool = False) -> None:
        super().__init__()
        self.dim, self.max_len = dim, max_len
        self.scale_input, self.reverse_positions, self.pre_norm = scale_input, reverse_positions, pre_norm
        self.pos_emb = nn.Embedding(max_len, dim)
        self.input_norm = nn.LayerNorm(dim)
        self.input_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, num_heads, inner_dim or 4 * dim, dropout, activation="gelu",
                                           batch_first=True, norm_first=pre_norm)
        self.blocks = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(dim) if pre_norm else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        self.input_norm.reset_parameters()
        for block in self.blocks.layers:
            for m in block.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    m.reset_parameters()
            nn.init.normal_(block.self_attn.in_proj_weight, std=0.02)
            nn.init.zeros_(block.self_attn.in_proj_bias)
        if isinstance(self.final_norm, nn.LayerNorm):
            self.final_norm.reset_parameters()

    def forward(self, items: Tensor, lengths: Tensor) -> Tensor:
        b, t, _ = items.shape
        pos = torch.arange(t, device=items.device).unsqueeze(0).expand(b, t)
        if self.reverse_positions:
            pos = (lengths.unsqueeze(1) - 1 - pos).clamp(min=0)
        x = items * math.sqrt(self.dim) if self.scale_input else items
        x = self.input_dropout(self.input_norm(x + self.pos_emb(pos)))
        # Right padding + causal mask: a real position only ever attends to earlier real positions, so no
        # key-padding mask is needed (pad positions' outputs are garbage and must be ignored by the caller).
        causal = nn.Transformer.generate_square_subsequent_mask(t, device=items.device)
        x = self.blocks(x, mask=causal, is_causal=True)
        return self.final_norm(x)

    @staticmethod
    def last(states: Tensor, lengths: Tensor) -> Tensor:
        """``[B, d]`` the state at each sequence's last real position."""
        return states[torch.arange(states.size(0), device=states.device), lengths - 1]
