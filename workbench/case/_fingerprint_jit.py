"""The numba kernels of cross-referencing (imported lazily; they release the GIL): the
fingerprints of :mod:`workbench.case._fingerprint`, the merge join of two sorted indexes,
and HMAC-SHA-256 for exchange lists. Every fingerprint operation stays in uint64: numba
would turn a uint64 mixed with an int64 into a float."""

from __future__ import annotations

import numpy as np
from numba import njit

Arr = np.ndarray

_FNV_PRIME = np.uint64(0x100000001B3)
_POLY = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(cache=True, nogil=True)
def _mix(x: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: every input bit reaches every output bit."""
    x = (x ^ (x >> _S30)) * _MIX1
    x = (x ^ (x >> _S27)) * _MIX2
    return x ^ (x >> _S31)


@njit(cache=True, nogil=True)
def hash_strings(offsets: Arr, data: Arr, seeds: Arr) -> tuple[Arr, Arr]:
    """(h1, h2) of string ``i`` (bytes ``data[offsets[i]:offsets[i + 1]]``) from ``seeds[i]``."""
    n = len(offsets) - 1
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    for i in range(n):
        a = seeds[i]
        b = _mix(seeds[i] ^ _POLY)
        start, end = offsets[i], offsets[i + 1]
        for j in range(start, end):
            c = np.uint64(data[j])
            a = (a ^ c) * _FNV_PRIME
            b = (b + c + _ONE) * _POLY
        length = np.uint64(end - start)
        h1[i] = _mix(a ^ length)
        h2[i] = _mix(b + length)
    return h1, h2


@njit(cache=True, nogil=True)
def _run_end(a: Arr, i: int) -> int:
    """The end of the run of values equal to ``a[i]`` (``a`` sorted)."""
    j = i + 1
    while j < len(a) and a[j] == a[i]:
        j += 1
    return j


@njit(cache=True, nogil=True)
def _grown(values: Arr, k: int) -> Arr:
    """``values`` with room for at least ``k`` more than it holds (twice its size)."""
    bigger = np.empty(max(2 * len(values), len(values) + k), dtype=values.dtype)
    bigger[: len(values)] = values
    return bigger


@njit(cache=True, nogil=True)
def join_sorted(a: Arr, b: Arr) -> tuple[Arr, Arr]:
    """(i, j) of every pair with ``a[i] == b[j]``, both ``a`` and ``b`` sorted ascending:
    one merge over the two (memory read in order; the steps past unequal values are
    taken without a branch, equal values being rare)."""
    left = np.empty(1024, dtype=np.int64)
    right = np.empty(1024, dtype=np.int64)
    i, j, k = 0, 0, 0
    while i < len(a) and j < len(b):
        x, y = a[i], b[j]
        if x != y:
            i += x < y
            j += y < x
            continue
        i_end, j_end = _run_end(a, i), _run_end(b, j)
        n = (i_end - i) * (j_end - j)
        if k + n > len(left):
            left, right = _grown(left, n), _grown(right, n)
        for p in range(i, i_end):
            for q in range(j, j_end):
                left[k], right[k] = p, q
                k += 1
        i, j = i_end, j_end
    return left[:k].copy(), right[:k].copy()


# -- HMAC-SHA-256 (FIPS 180-4, RFC 2104) over the rows of a string column -----------------
_K256 = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip
SHA256_IV = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
     0x5BE0CD19],
    dtype=np.uint32,
)  # fmt: skip


@njit(cache=True, nogil=True)
def _rotr(x: np.uint32, n: int) -> np.uint32:
    return np.uint32((x >> np.uint32(n)) | (x << np.uint32(32 - n)))


@njit(cache=True, nogil=True)
def sha256_block(state: Arr, block: Arr) -> None:
    """Fold one 64-byte ``block`` (uint8) into ``state`` (8 uint32), in place."""
    w = np.empty(64, dtype=np.uint32)
    for t in range(16):
        w[t] = np.uint32(
            (np.uint32(block[4 * t]) << np.uint32(24))
            | (np.uint32(block[4 * t + 1]) << np.uint32(16))
            | (np.uint32(block[4 * t + 2]) << np.uint32(8))
            | np.uint32(block[4 * t + 3])
        )
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint32(3))
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint32(10))
        w[t] = np.uint32(w[t - 16] + s0 + w[t - 7] + s1)
    a, b, c, d = state[0], state[1], state[2], state[3]
    e, f, g, h = state[4], state[5], state[6], state[7]
    for t in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ (~e & g)
        t1 = np.uint32(h + s1 + ch + _K256[t] + w[t])
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b) ^ (a & c) ^ (b & c)
        t2 = np.uint32(s0 + maj)
        h, g, f, e = g, f, e, np.uint32(d + t1)
        d, c, b, a = c, b, a, np.uint32(t1 + t2)
    state[0] += a
    state[1] += b
    state[2] += c
    state[3] += d
    state[4] += e
    state[5] += f
    state[6] += g
    state[7] += h


@njit(cache=True, nogil=True)
def _finish(state: Arr, block: Arr, used: int, total: int) -> None:
    """Pad the last ``used`` bytes in ``block`` (``total`` bytes hashed in all) and fold."""
    block[used] = 0x80
    for k in range(used + 1, 64):
        block[k] = 0
    if used >= 56:
        sha256_block(state, block)
        for k in range(64):
            block[k] = 0
    bits = np.uint64(total) * np.uint64(8)
    for k in range(8):
        block[63 - k] = np.uint8((bits >> np.uint64(8 * k)) & np.uint64(0xFF))
    sha256_block(state, block)


@njit(cache=True, nogil=True)
def hmac_sha256(
    offsets: Arr, data: Arr, prefix: Arr, inner: Arr, outer: Arr, out: Arr, start: int, stop: int
) -> None:
    """``out[i]`` = HMAC-SHA-256 of ``prefix`` + string ``i`` (bytes ``data[offsets[i]:
    offsets[i + 1]]``) for ``start <= i < stop``, from the key's ``inner`` and ``outer``
    states (SHA-256 after the key's padded block XOR ipad, opad)."""
    state = np.empty(8, dtype=np.uint32)
    block = np.zeros(64, dtype=np.uint8)
    for i in range(start, stop):
        state[:] = inner
        used = 0
        n = len(prefix) + offsets[i + 1] - offsets[i]
        for k in range(n):
            if k < len(prefix):
                block[used] = prefix[k]
            else:
                block[used] = data[offsets[i] + k - len(prefix)]
            used += 1
            if used == 64:
                sha256_block(state, block)
                used = 0
        _finish(state, block, used, 64 + n)
        for k in range(8):  # the inner digest, then the outer hash over it
            for b in range(4):
                block[4 * k + b] = np.uint8((state[k] >> np.uint32(24 - 8 * b)) & np.uint32(0xFF))
        state[:] = outer
        _finish(state, block, 32, 96)
        for k in range(8):
            for b in range(4):
                out[i, 4 * k + b] = np.uint8((state[k] >> np.uint32(24 - 8 * b)) & np.uint32(0xFF))
