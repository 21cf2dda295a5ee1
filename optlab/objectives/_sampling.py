"""Minibatches without replacement from a keyed permutation (a shuffled DataLoader).

A finite-sum objective with ``n`` samples and batch size ``m`` splits every
epoch into ``ceil(n / m)`` batches. Step ``t`` of trajectory ``i`` uses

    epoch e = t // ceil(n/m),   batch b = t % ceil(n/m),
    samples pi_{seed, i, e}(k)  for positions k in [b m, min(b m + m, n)),

where ``pi`` is a pseudo-random permutation of [0, n) keyed by (run seed,
trajectory, epoch). Every sample is used exactly once per epoch; the last
batch of an epoch is *short* when m does not divide n (torch's DataLoader
with ``drop_last=False``), and its gradient is the mean over its own size.
``m = 0`` means the full batch, in order.

The permutation is a 4-round Feistel network on the ``bits = ceil(log2 n)``
bit strings, made a bijection of [0, n) by *cycle-walking* (apply it again
while the result is >= n; fewer than 2 rounds on average because
2^bits < 2n). It is a pure function of its key and position, so nothing is
stored, batches do not depend on the thread count or the block size, and
the CPU and CUDA engines draw the same ones. Unequal halves (floor/ceil of
bits/2) keep the domain below 2n for odd bit counts: a round maps
(L, R) -> (R, L xor F(R)) and the two widths swap, which stays invertible.
The round function is SplitMix64's finaliser (``optlab.engine.rng.mix64``)
of the right half plus a round key. This is a shuffle for SGD, not a
cryptographic permutation.

References: Luby & Rackoff, SIAM J. Comput. 17 (1988); Black & Rogaway,
"Ciphers with arbitrary finite domains", CT-RSA 2002 (cycle-walking).
"""
import warnings

import numpy as np
from numba.core.extending import overload

from optlab.engine.ops import CTX_HEAD, CTX_PERM, jitable
from optlab.engine.rng import key64, mix64

#: loops over data samples: float64 code at the data width (512 bits where the CPU has AVX-512;
#: engine/jitopts.py, docs/DESIGN.md "Vector width per dtype")
VECTOR_WIDTH_CLASS = "data"

_MASK = (1 << 64) - 1
_G = 0x9E3779B97F4A7C15
_PERM_STREAM = 0x5EEDBA7C  # the k of rng.key64 reserved for minibatch permutations


def permutation_bits(n: int) -> int:
    """Bits of the Feistel domain for n samples: ceil(log2 n), at least 1."""
    n = int(n)
    return max(1, (n - 1).bit_length())


def epoch_key(seed, traj, epoch):
    """The permutation key of (run seed, trajectory, epoch): rng.key64(seed,
    traj, epoch, _PERM_STREAM), a 64-bit integer (uint64 in kernels)."""
    return key64(seed, traj, epoch, _PERM_STREAM)


def permute(pos, n, bits, key):
    """pi_key(pos): the sample at position ``pos`` of the shuffled [0, n).

    Plain Python on ints (for ``NUMBA_DISABLE_JIT=1`` and the CUDA
    simulator); compiled kernels get the uint64 twin below, same bits."""
    wl = bits // 2
    wr = bits - wl
    ml = (1 << wl) - 1
    mr = (1 << wr) - 1
    key = int(key) & _MASK
    k1 = (key + _G) & _MASK
    k2 = (k1 + _G) & _MASK
    k3 = (k2 + _G) & _MASK
    k4 = (k3 + _G) & _MASK
    v = int(pos)
    while True:
        # widths: (hi wl, lo wr) -> (lo wr, t wl) -> (t wl, hi2 wr) -> (hi2, t2) -> (t2 wl, lo2 wr)
        lo = v & mr
        hi = v >> wr
        t = (hi ^ mix64((lo + k1) & _MASK)) & ml
        hi2 = (lo ^ mix64((t + k2) & _MASK)) & mr
        t2 = (t ^ mix64((hi2 + k3) & _MASK)) & ml
        lo2 = (hi2 ^ mix64((t2 + k4) & _MASK)) & mr
        v = (t2 << wr) | lo2
        if v < n:
            return v


_uONE = np.uint64(1)
_uG = np.uint64(_G)
_uM1 = np.uint64(0xBF58476D1CE4E5B9)
_uM2 = np.uint64(0x94D049BB133111EB)
_uS = np.uint64((_PERM_STREAM * _G + _G) & _MASK)
_u30 = np.uint64(30)
_u27 = np.uint64(27)
_u31 = np.uint64(31)

# The compiled twins below spell SplitMix64 out instead of calling rng.mix64:
# Numba inlines helpers at the IR level and nested inlining is slow to compile.


def _epoch_key_jit(seed, traj, epoch):
    z = np.uint64(seed) * _uG + np.uint64(traj)
    z = (z ^ (z >> _u30)) * _uM1
    z = (z ^ (z >> _u27)) * _uM2
    z = z ^ (z >> _u31)
    z = z + np.uint64(epoch) * _uG
    z = (z ^ (z >> _u30)) * _uM1
    z = (z ^ (z >> _u27)) * _uM2
    z = z ^ (z >> _u31)
    z = z + _uS
    z = (z ^ (z >> _u30)) * _uM1
    z = (z ^ (z >> _u27)) * _uM2
    return z ^ (z >> _u31)


def _permute_jit(pos, n, bits, key):
    wl = bits // 2
    wr = bits - wl
    uwr = np.uint64(wr)
    ml = (_uONE << np.uint64(wl)) - _uONE
    mr = (_uONE << uwr) - _uONE
    nn = np.uint64(n)
    k1 = np.uint64(key) + _uG
    k2 = k1 + _uG
    k3 = k2 + _uG
    k4 = k3 + _uG
    v = np.uint64(pos)
    while True:
        lo = v & mr
        hi = v >> uwr
        z = lo + k1
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        t = (hi ^ z ^ (z >> _u31)) & ml
        z = t + k2
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        hi2 = (lo ^ z ^ (z >> _u31)) & mr
        z = hi2 + k3
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        t2 = (t ^ z ^ (z >> _u31)) & ml
        z = t2 + k4
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        lo2 = (hi2 ^ z ^ (z >> _u31)) & mr
        v = (t2 << uwr) | lo2
        if v < nn:
            return np.int64(v)  # int(uint64) stays uint64 in Numba, and uint64 + int64 -> float64


overload(epoch_key, target="generic", inline="always", strict=False)(lambda *a: _epoch_key_jit)
overload(permute, target="generic", inline="always", strict=False)(lambda *a: _permute_jit)


def batch_keys(sk, seed, traj0, epoch, n):
    """sk[j] = epoch_key(seed, traj0 + j, epoch) for j < n, its 64 bits stored as int64."""
    for j in range(n):
        k = int(epoch_key(seed, traj0 + j, epoch)) & _MASK
        sk[j] = k - (1 << 64) if k >> 63 else k


def batch_positions(si, sk, pos, n, bits, w):
    """si[j] = permute(pos, n, bits, key j) for the w keys of ``sk`` (``batch_keys``)."""
    for j in range(w):
        si[j] = permute(pos, n, bits, int(sk[j]) & _MASK)


def _batch_keys_jit(sk, seed, traj0, epoch, n):
    for j in range(n):
        sk[j] = np.int64(epoch_key(seed, traj0 + j, epoch))


def _batch_positions_jit(si, sk, pos, n, bits, w):
    # one Feistel pass for every key, branch-free (it vectorises), then the cycle walk of the
    # values that left [0, n) (none when n is a power of two; under half of them otherwise)
    wl = bits // 2
    wr = bits - wl
    uwr = np.uint64(wr)
    ml = (_uONE << np.uint64(wl)) - _uONE
    mr = (_uONE << uwr) - _uONE
    v0 = np.uint64(pos)
    lo = v0 & mr
    hi = v0 >> uwr
    for j in range(w):
        k1 = np.uint64(sk[j]) + _uG
        z = lo + k1
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        t = (hi ^ z ^ (z >> _u31)) & ml
        z = t + k1 + _uG
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        hi2 = (lo ^ z ^ (z >> _u31)) & mr
        z = hi2 + k1 + _uG + _uG
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        t2 = (t ^ z ^ (z >> _u31)) & ml
        z = t2 + k1 + _uG + _uG + _uG
        z = (z ^ (z >> _u30)) * _uM1
        z = (z ^ (z >> _u27)) * _uM2
        lo2 = (hi2 ^ z ^ (z >> _u31)) & mr
        si[j] = np.int64((t2 << uwr) | lo2)
    for j in range(w):
        if si[j] >= n:
            si[j] = permute(si[j], n, bits, sk[j])


# The block-wide helpers are functions of their own (inline="never"), compiled once per process
# and linked into each finite-sum objective: inlined into the three objectives, with the tables
# below, their loops made the objectives' cold compile 3.3 -> 10.5 s (linear regression), 4.0 ->
# 9.2 s (logistic), 6.6 -> 11.8 s (mlp); as functions, 3.7, 3.9 and 5.8 s, the same speed (the
# loops are inside them; one call per sample position and block).
overload(batch_keys, target="generic", inline="never", strict=False)(lambda *a: _batch_keys_jit)
overload(batch_positions, target="generic", inline="never", strict=False)(lambda *a: _batch_positions_jit)


# --- round tables: the permutation of one epoch without its multiplies -----------------
#
# A round of the Feistel network maps a half of at most 5 bits (bits <= PERM_MAX_BITS) through
# SplitMix64 with the round's key: 32 inputs or fewer, so each trajectory's four rounds are
# tables of at most 32 entries. Up to 8 bits (256 samples) an entry is a nibble, sixteen to an
# int64 word: one word a round, read with one shift and a mask (round r in row 1 + 4 r); above,
# a byte, eight to a word, four words a round (ops.CTX_PERM - 1 rows of the block), read with
# selects. The nibbles halved the cost of a position (one thread, 256 samples, a block of 256,
# tables rebuilt every epoch: 0.88 -> 0.45 ns a trajectory and sample). Built once per epoch and block, from the same
# SplitMix64 of the same (input + key), they give every position of the epoch with shifts,
# masks and selects instead of eight 64-bit multiplies (which run at a quarter of the width of
# a double's vector on AVX-512). Row 0 is the tag: (seed, first trajectory, epoch, size word)
# of the tables the rows hold; a block or epoch that does not match rebuilds them.

PERM_MAX_BITS = 10
#: up to this many bits (256 samples) a round's entries are nibbles, one word a round
NIBBLE_BITS = 8
_TAG = 0x5EED << 48


def _tag_word(ns, bits, n):
    return _TAG + bits + (ns << 4) + (n << 20)


def perm_tables(ctx, sk, used, epoch, ns, bits, n):
    """``(ready, tab)``: when the block's ctx has room after the head and ``used`` rows of ``n``
    (and ``bits <= PERM_MAX_BITS``), ``tab`` is its last ops.CTX_PERM rows as a (CTX_PERM, n)
    view holding this epoch's round tables (built here unless the tag says they are held
    already) and ``ready`` is True: draw with ``batch_positions_tab``. Otherwise ``ready`` is
    False and ``sk`` holds the keys for ``batch_positions``."""
    total = ctx.shape[0]
    if not (bits <= PERM_MAX_BITS and n >= 4 and total >= CTX_HEAD + (used + CTX_PERM) * n):
        batch_keys(sk, ctx[0], ctx[2], epoch, n)
        return False, None
    tab = ctx[total - CTX_PERM * n:].reshape(CTX_PERM, n)
    tw = _tag_word(ns, bits, n)
    if tab[0, 0] == ctx[0] and tab[0, 1] == ctx[2] and tab[0, 2] == epoch and tab[0, 3] == tw:
        return True, tab
    batch_keys(sk, ctx[0], ctx[2], epoch, n)
    wl = bits // 2
    wr = bits - wl
    lg = 4 if bits <= NIBBLE_BITS else 3  # log2 of the entries a word holds
    tab[1:] = 0
    for r in range(4):
        w_in, w_out = (wr, wl) if r % 2 == 0 else (wl, wr)
        for e in range(1 << w_in):
            for j in range(n):
                z = (e + (int(sk[j]) & _MASK) + _G * (r + 1)) & _MASK
                v = mix64(z) & ((1 << w_out) - 1)
                q = 1 + 4 * r + (e >> lg)
                word = (int(tab[q, j]) & _MASK) | (v << ((e & ((1 << lg) - 1)) << (6 - lg)))
                tab[q, j] = word - (1 << 64) if word >> 63 else word  # the int64 of these 64 bits
    tab[0, 0], tab[0, 1], tab[0, 2], tab[0, 3] = ctx[0], ctx[2], epoch, tw
    return True, tab


_iONE = np.int64(1)


def _perm_tables_jit(ctx, sk, used, epoch, ns, bits, n):
    total = ctx.shape[0]
    if not (bits <= PERM_MAX_BITS and n >= 4 and total >= CTX_HEAD + (used + CTX_PERM) * n):
        batch_keys(sk, ctx[0], ctx[2], epoch, n)
        return False, ctx[:0].reshape((0, 1))
    tab = ctx[total - CTX_PERM * n:].reshape((CTX_PERM, n))
    tw = np.int64(_TAG) + bits + (ns << 4) + (n << 20)
    if tab[0, 0] == ctx[0] and tab[0, 1] == ctx[2] and tab[0, 2] == epoch and tab[0, 3] == tw:
        return True, tab
    batch_keys(sk, ctx[0], ctx[2], epoch, n)
    wl = bits // 2
    wr = bits - wl
    lg = 4 if bits <= NIBBLE_BITS else 3
    for q in range(1, CTX_PERM):
        for j in range(n):
            tab[q, j] = 0
    for r in range(4):
        w_in = wr if r % 2 == 0 else wl
        w_out = wl if r % 2 == 0 else wr
        mo = (_uONE << np.uint64(w_out)) - _uONE
        rk = _uG * np.uint64(r + 1)
        row = 1 + 4 * r
        for e in range(1 << w_in):
            q = row + (e >> lg)
            sh = np.int64((e & ((1 << lg) - 1)) << (6 - lg))
            ue = np.uint64(e) + rk
            for j in range(n):
                z = ue + np.uint64(sk[j])
                z = (z ^ (z >> _u30)) * _uM1
                z = (z ^ (z >> _u27)) * _uM2
                tab[q, j] |= np.int64((z ^ (z >> _u31)) & mo) << sh
    tab[0, 0] = ctx[0]
    tab[0, 1] = ctx[2]
    tab[0, 2] = epoch
    tab[0, 3] = tw
    return True, tab


_u15 = np.uint64(15)
_u255 = np.uint64(255)


@jitable
def _field(w, s, m):
    """``(w >> s) & m`` for a table word ``w`` (int64, any sign bit), a shift ``s < 64`` and a
    mask ``m`` (uint64) of a few low bits: as a logical shift, which is what the masked result
    needs. AVX2 has no 64-bit arithmetic shift: LLVM made each ``>>`` of an int64 four
    operations (two shifts, a xor and a subtraction), three quarters of a round's work on
    an AMD EPYC (Zen 1); with AVX-512 (``vpsraq``) it costs the same either way."""
    return np.int64((np.uint64(w) >> np.uint64(s)) & m)


@jitable(inline="never")
def _nib_jit(tab, row, e, j):
    """Entry ``e < 16`` of the nibble table at ``row`` (bits <= NIBBLE_BITS), trajectory ``j``."""
    return _field(tab[row, j], e << 2, _u15)


@jitable(inline="never")
def _pick4_jit(tab, row, e, j):
    """Entry ``e < 32``: words 0-3 by bits 3 and 4 of ``e``."""
    m = -_field(e, 3, _uONE)
    w0 = tab[row, j]
    w2 = tab[row + 2, j]
    a = w0 ^ ((w0 ^ tab[row + 1, j]) & m)
    b = w2 ^ ((w2 ^ tab[row + 3, j]) & m)
    w = a ^ ((a ^ b) & -_field(e, 4, _uONE))
    return _field(w, (e & 7) * 8, _u255)


@jitable(inline="never")
def _walk_jit(v, tab, ns, wr, mr, j, nib):
    """The cycle walk of one trajectory's value ``v >= ns`` (scalar; rare); ``nib``: nibble tables."""
    while v >= ns:
        lo = v & mr
        hi = v >> wr
        if nib:
            t = hi ^ _nib_jit(tab, 1, lo, j)
            hi2 = lo ^ _nib_jit(tab, 5, t, j)
            t2 = t ^ _nib_jit(tab, 9, hi2, j)
            lo2 = hi2 ^ _nib_jit(tab, 13, t2, j)
        else:
            t = hi ^ _pick4_jit(tab, 1, lo, j)
            hi2 = lo ^ _pick4_jit(tab, 5, t, j)
            t2 = t ^ _pick4_jit(tab, 9, hi2, j)
            lo2 = hi2 ^ _pick4_jit(tab, 13, t2, j)
        v = (t2 << wr) | lo2
    return v


@jitable(inline="never")
def batch_positions_tab(si, tab, pos, ns, bits, n):
    """``batch_positions`` from the round tables of ``perm_tables``: the same samples. The
    same code in plain Python (no 64-bit products here to overflow)."""
    # round 1's input is the position's low half, the same for every trajectory; the rest is
    # branch-free (it vectorises): nibble tables up to NIBBLE_BITS (one word a round), byte tables
    # above (four words a round, selects), then the cycle walk of the values that left [0, ns)
    # (none when ns is a power of two)
    wl = bits // 2
    wr = bits - wl
    mr = (_iONE << wr) - _iONE
    lo = pos & mr
    hi = pos >> wr
    out = 0
    nib = bits <= NIBBLE_BITS
    if nib:
        t1 = tab[1]
        s1 = lo << 2
        for j in range(n):
            t = hi ^ _field(t1[j], s1, _u15)
            hi2 = lo ^ _nib_jit(tab, 5, t, j)
            t2 = t ^ _nib_jit(tab, 9, hi2, j)
            v = (t2 << wr) | (hi2 ^ _nib_jit(tab, 13, t2, j))
            si[j] = v
            out += v >= ns
    else:
        t1 = tab[1 + (lo >> 3)]
        s1 = (lo & 7) * 8
        for j in range(n):
            t = hi ^ _field(t1[j], s1, _u255)
            hi2 = lo ^ _pick4_jit(tab, 5, t, j)
            t2 = t ^ _pick4_jit(tab, 9, hi2, j)
            v = (t2 << wr) | (hi2 ^ _pick4_jit(tab, 13, t2, j))
            si[j] = v
            out += v >= ns
    if out:
        for j in range(n):
            v = si[j]
            if v >= ns:
                si[j] = _walk_jit(v, tab, ns, wr, mr, j, nib)


@jitable
def _nib_rounds(w1, w5, w9, w13, lo, hi, wr):
    """The four Feistel rounds of one position's halves from one trajectory's nibble round words
    (``batch_positions_tab``'s arithmetic, on words already loaded)."""
    t = hi ^ _field(w1, lo << 2, _u15)
    h = lo ^ _field(w5, t << 2, _u15)
    u = t ^ _field(w9, h << 2, _u15)
    return (u << wr) | (h ^ _field(w13, u << 2, _u15))


@jitable(inline="never")
def batch_positions_tab4(si4, tab, pos, ns, bits, n):
    """``batch_positions_tab`` for the four positions ``pos .. pos + 3`` into the rows of
    ``si4`` (4, >= n): the same samples. With nibble tables one loop reads each trajectory's
    four round words once for the four positions (a caller that then takes four samples a
    trajectory in one loop reads and writes its sums once for four); byte tables, four calls."""
    if bits > NIBBLE_BITS:
        for k in range(4):
            batch_positions_tab(si4[k], tab, pos + k, ns, bits, n)
        return
    wl = bits // 2
    wr = bits - wl
    mr = (_iONE << wr) - _iONE
    # the four positions' halves (scalars), the round-1 shift from the low half
    lo0 = pos & mr
    hi0 = pos >> wr
    lo1 = (pos + 1) & mr
    hi1 = (pos + 1) >> wr
    lo2 = (pos + 2) & mr
    hi2 = (pos + 2) >> wr
    lo3 = (pos + 3) & mr
    hi3 = (pos + 3) >> wr
    t1 = tab[1]
    t5 = tab[5]
    t9 = tab[9]
    t13 = tab[13]
    s0 = si4[0]
    s1 = si4[1]
    s2 = si4[2]
    s3 = si4[3]
    out = 0
    for j in range(n):
        w1 = t1[j]
        w5 = t5[j]
        w9 = t9[j]
        w13 = t13[j]
        v0 = _nib_rounds(w1, w5, w9, w13, lo0, hi0, wr)
        v1 = _nib_rounds(w1, w5, w9, w13, lo1, hi1, wr)
        v2 = _nib_rounds(w1, w5, w9, w13, lo2, hi2, wr)
        v3 = _nib_rounds(w1, w5, w9, w13, lo3, hi3, wr)
        s0[j] = v0
        s1[j] = v1
        s2[j] = v2
        s3[j] = v3
        out += (v0 >= ns) + (v1 >= ns) + (v2 >= ns) + (v3 >= ns)
    if out:  # the cycle walk of the values that left [0, ns) (none when ns is a power of two)
        for k in range(4):
            row = si4[k]
            for j in range(n):
                v = row[j]
                if v >= ns:
                    row[j] = _walk_jit(v, tab, ns, wr, mr, j, True)


overload(perm_tables, target="generic", inline="never", strict=False)(lambda *a: _perm_tables_jit)


@jitable
def batch_span(step, n, m):
    """(epoch, first position, count) of the minibatch at ``step``.

    m = 0 is the full batch, (0, 0, n): kernels then take the samples in
    order rather than through ``permute``. m >= n is one shuffled batch of
    all n samples per epoch."""
    if m <= 0:
        return 0, 0, n
    nb = (n + m - 1) // m
    epoch = step // nb
    b = step - epoch * nb
    start = b * m
    count = min(m, n - start)
    return epoch, start, count


# --- numpy twins (tests, benchmarks): same numbers, vectorised ----------------------

def _mix64_np(z):
    z = (z ^ (z >> np.uint64(30))) * _uM1
    z = (z ^ (z >> np.uint64(27))) * _uM2
    return z ^ (z >> np.uint64(31))


def epoch_key_np(seed, traj, epoch):
    """``epoch_key`` for arrays of trajectories and epochs (uint64 array)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        seed = np.asarray(seed, dtype=np.uint64)
        traj = np.asarray(traj, dtype=np.uint64)
        epoch = np.asarray(epoch, dtype=np.uint64)
        z = _mix64_np(seed * _uG + traj)
        z = _mix64_np(z + epoch * _uG)
        return _mix64_np(z + np.uint64(_PERM_STREAM) * _uG + _uG)


def permute_np(pos, n, keys):
    """``permute`` for arrays of positions and keys (broadcast together)."""
    bits = permutation_bits(n)
    wl = np.uint64(bits // 2)
    wr = np.uint64(bits - bits // 2)
    ml = (_uONE << wl) - _uONE
    mr = (_uONE << wr) - _uONE
    v, key = np.broadcast_arrays(np.asarray(pos, dtype=np.uint64), np.asarray(keys, dtype=np.uint64))
    v = v.ravel().copy()
    shape = key.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        k1 = key.ravel() + _uG
        k2 = k1 + _uG
        k3 = k2 + _uG
        k4 = k3 + _uG
        idx = np.arange(v.size)
        w = v
        a1, a2, a3, a4 = k1, k2, k3, k4
        while idx.size:
            lo = w & mr
            hi = w >> wr
            t = (hi ^ _mix64_np(lo + a1)) & ml
            hi2 = (lo ^ _mix64_np(t + a2)) & mr
            t2 = (t ^ _mix64_np(hi2 + a3)) & ml
            lo2 = (hi2 ^ _mix64_np(t2 + a4)) & mr
            w = (t2 << wr) | lo2
            v[idx] = w
            walk = w >= np.uint64(n)
            idx, w = idx[walk], w[walk]
            a1, a2, a3, a4 = a1[walk], a2[walk], a3[walk], a4[walk]
    return v.astype(np.int64).reshape(shape)


def batch_indices_np(seed, trajs, step, n, m):
    """Sample indices of the minibatch at ``step`` for each trajectory: (len(trajs), count)."""
    trajs = np.atleast_1d(np.asarray(trajs, dtype=np.int64))
    if m <= 0 or m >= n:
        return np.broadcast_to(np.arange(n), (trajs.size, n))
    nb = -(-n // m)
    epoch, b = divmod(int(step), nb)
    start = b * m
    count = min(m, n - start)
    keys = epoch_key_np(seed, trajs, epoch)
    pos = np.arange(start, start + count, dtype=np.uint64)
    return permute_np(pos[None, :], n, keys[:, None])
