"""Placeholder until the attention family lands."""


def attention(q, k, v, causal=True, window=None, scale=None, kv_dtype="f32"):
    raise NotImplementedError("attention")
