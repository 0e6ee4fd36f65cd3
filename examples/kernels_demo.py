"""The kernels on their own: a quantized matmul, checked against numpy, on every ISA here.

    python examples/kernels_demo.py
"""

import numpy as np

import livemind.kernels as K

rng = np.random.default_rng(0)
w = rng.standard_normal((512, 1024)).astype(np.float32)
a = rng.standard_normal((4, 1024)).astype(np.float32)
for fmt in ("q8_0", "q4_0", "q4_1", "q5_0", "q4_k", "q6_k"):   # the formats quantize() writes
    q = K.quantize(w, fmt)
    want = a.astype(np.float64) @ K.dequantize(q, fmt, w.shape).T.astype(np.float64)
    for isa in K.available_isas():
        K.set_isa(isa)
        got = K.qmatmul(a, q, fmt, w.shape)
        err = np.abs(got - want).max() / np.abs(want).max()
        print(f"{fmt:5} {isa:7} {q.nbytes / w.nbytes * 32:4.1f} bits/weight  max rel err {err:.2e}")
