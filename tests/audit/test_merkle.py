"""RFC 6962 hashing and proofs: known answers, an independent implementation, properties."""

from __future__ import annotations

import hashlib
import random

import pymerkle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.audit._merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    NodeRun,
    ProofError,
    RunningRoot,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from veil.errors import InvalidInput

# Known-answer vectors of the Certificate Transparency / Trillian lineage, as
# published in transparency-dev/merkle, proof/verify_test.go (Apache-2.0):
# eight leaves, the roots of the trees of sizes 1..8, and inclusion and
# consistency proofs over them. In that file inclusion leaves are 1-based.
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
H = {
    "96a2": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f08": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca85": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37e": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "fac5": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "6e34": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "0ebc": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "b086": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
}
# (1-based leaf, tree size, proof)
INCLUSION = [
    (1, 8, ["96a2", "5f08", "6b47"]),
    (6, 8, ["bc1a", "ca85", "d37e"]),
    (3, 3, ["fac5"]),
    (2, 5, ["6e34", "5f08", "bc1a"]),
]
# (old size, new size, proof)
CONSISTENCY = [
    (1, 8, ["96a2", "5f08", "6b47"]),
    (6, 8, ["0ebc", "ca85", "d37e"]),
    (2, 5, ["5f08", "bc1a"]),
    (6, 7, ["0ebc", "b086", "d37e"]),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _store(leaves: list[bytes], batch: int | None = None) -> MemoryNodeStore:
    store = MemoryNodeStore()
    hashes = [leaf_hash(leaf) for leaf in leaves]
    step = batch or max(1, len(hashes))
    for start in range(0, len(hashes), step):
        append_leaves(store, hashes[start : start + step])
    return store


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.fixture(scope="module")
def vectors() -> MemoryNodeStore:
    # Leaves arrive in uneven batches, so the known answers also cover
    # integration across batch boundaries.
    store = MemoryNodeStore()
    for batch in ([0], [1, 2], [3, 4, 5, 6], [7]):
        append_leaves(store, [leaf_hash(LEAVES[i]) for i in batch])
    return store


def test_hash_prefixes_follow_rfc_6962() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_known_answers(vectors: MemoryNodeStore, size: int) -> None:
    assert root_hash(vectors, size) == ROOTS[size - 1]


def test_root_of_the_empty_tree(vectors: MemoryNodeStore) -> None:
    assert root_hash(vectors, 0) == EMPTY_ROOT
    assert root_hash(MemoryNodeStore(), 0) == EMPTY_ROOT


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_known_answers(
    vectors: MemoryNodeStore, leaf: int, size: int, proof: list[str]
) -> None:
    expected = [bytes.fromhex(H[p]) for p in proof]
    assert inclusion_proof(vectors, index=leaf - 1, size=size) == expected
    verify_inclusion(
        leaf_hash=leaf_hash(LEAVES[leaf - 1]),
        index=leaf - 1,
        size=size,
        proof=expected,
        root=ROOTS[size - 1],
    )


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_known_answers(
    vectors: MemoryNodeStore, old: int, new: int, proof: list[str]
) -> None:
    expected = [bytes.fromhex(H[p]) for p in proof]
    assert consistency_proof(vectors, old_size=old, new_size=new) == expected
    verify_consistency(
        old_size=old, new_size=new, old_root=ROOTS[old - 1], new_root=ROOTS[new - 1], proof=expected
    )


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, proof: list[str]) -> None:
    # The corruptions of transparency-dev/merkle's corruptInclusionProof.
    good = [bytes.fromhex(H[p]) for p in proof]
    index, root, leaf_h = leaf - 1, ROOTS[size - 1], leaf_hash(LEAVES[leaf - 1])
    probes = [
        (index - 1, size, leaf_h, good, root),
        (index + 1, size, leaf_h, good, root),
        (index ^ 2, size, leaf_h, good, root),
        (index, size * 2, leaf_h, good, root),
        (index, size // 2, leaf_h, good, root),
        (index, size, leaf_hash(b"WrongLeaf"), good, root),
        (index, size, leaf_h, good, EMPTY_ROOT),
        (index, size, leaf_h, good, SOME_HASH),
        (index, size, leaf_h, [*good, root], root),
        (index, size, leaf_h, [root, *good], root),
        (index, size, leaf_h, good[:-1], root),
        (index, size, leaf_h, [*good, b""], root),
    ]
    probes += [
        (index, size, leaf_h, [*good[:i], _flip(p, 3), *good[i + 1 :]], root)
        for i, p in enumerate(good)
    ]
    for i, s, lh, p, r in probes:
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash=lh, index=i, size=s, proof=p, root=r)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[str]) -> None:
    good = [bytes.fromhex(H[p]) for p in proof]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, good),
        (old + 1, new, r1, r2, good),
        (old ^ 2, new, r1, r2, good),
        (old, new * 2, r1, r2, good),
        (old, new // 2, r1, r2, good),
        (old, new, SOME_HASH, r2, good),
        (old, new, r1, SOME_HASH, good),
        (old, new, r2, r1, good),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*good, r1]),
        (old, new, r1, r2, [*good, r2]),
        (old, new, r1, r2, [r1, *good]),
        (old, new, r1, r2, [good[0], *good]),
        (old, new, r1, r2, good[:-1]),
    ]
    probes += [
        (old, new, r1, r2, [*good[:i], _flip(p, 4), *good[i + 1 :]]) for i, p in enumerate(good)
    ]
    for s1, s2, a, b, p in probes:
        with pytest.raises(ProofError):
            verify_consistency(old_size=s1, new_size=s2, old_root=a, new_root=b, proof=p)


@pytest.mark.parametrize(
    "case",
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 5, EMPTY_ROOT, SOME_HASH, [], True),
        (3, 3, SOME_HASH, SOME_HASH, [], True),
        (0, 5, SOME_HASH, SOME_HASH, [], False),  # size 0 must carry the empty root
        (3, 3, SOME_HASH, EMPTY_ROOT, [], False),
        (3, 3, SOME_HASH, SOME_HASH, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT], False),
        (2, 1, SOME_HASH, SOME_HASH, [], False),  # back in time
        (1, 2, SOME_HASH, EMPTY_ROOT, [], False),  # a real step needs a proof
    ],
)
def test_consistency_edge_cases(case: tuple[int, int, bytes, bytes, list[bytes], bool]) -> None:
    old, new, old_root, new_root, proof, ok = case

    def check() -> None:
        verify_consistency(
            old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
        )

    if ok:
        check()
    else:
        with pytest.raises(ProofError):
            check()


def test_inclusion_in_a_one_leaf_tree_is_the_leaf_itself() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(leaf_hash=h, index=0, size=1, proof=[], root=h)
    for index, size in [(0, 0), (1, 0), (2, 1), (1, 1)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash=h, index=index, size=size, proof=[], root=h)


def test_proof_arguments_outside_the_tree_are_refused(vectors: MemoryNodeStore) -> None:
    for index, size in [(0, 0), (8, 8), (-1, 4), (0, 9)]:
        with pytest.raises(InvalidInput):
            inclusion_proof(vectors, index=index, size=size)
    for old, new in [(5, 4), (-1, 3), (3, 9)]:
        with pytest.raises(InvalidInput):
            consistency_proof(vectors, old_size=old, new_size=new)
    with pytest.raises(InvalidInput):
        root_hash(vectors, 9)


def test_leaf_hashes_of_the_wrong_length_are_refused() -> None:
    store = MemoryNodeStore()
    with pytest.raises(InvalidInput):
        append_leaves(store, [b"short"])
    assert store.size() == 0


def test_running_root_matches_the_store() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(70)]
    store, running = MemoryNodeStore(), RunningRoot()
    assert running.root() == EMPTY_ROOT
    for leaf in leaves:
        append_leaves(store, [leaf])
        running.append(leaf)
        assert running.root() == root_hash(store, running.size)


@pytest.mark.parametrize("seed", range(6))
def test_cross_check_with_pymerkle(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
    data = [rng.randbytes(rng.randrange(0, 40)) for _ in range(rng.randrange(1, 90))]
    reference = pymerkle.InmemoryTree(algorithm="sha256")
    for entry in data:
        reference.append_entry(entry)
    store = _store(data, batch=rng.randrange(1, 20))
    for size in range(1, len(data) + 1):
        root = root_hash(store, size)
        assert root == reference.get_root(size)
        for index in rng.sample(range(size), min(size, 5)):
            ours = inclusion_proof(store, index=index, size=size)
            theirs = reference.prove_inclusion(index + 1, size)
            # pymerkle's path starts with the leaf itself, then the same siblings.
            assert theirs.path == [leaf_hash(data[index]), *ours]
            pymerkle.verify_inclusion(leaf_hash(data[index]), root, theirs)
        old = rng.randrange(1, size + 1)
        old_root = root_hash(store, old)
        assert old_root == reference.get_root(old)
        verify_consistency(
            old_size=old,
            new_size=size,
            old_root=old_root,
            new_root=root,
            proof=consistency_proof(store, old_size=old, new_size=size),
        )
        pymerkle.verify_consistency(old_root, root, reference.prove_consistency(old, size))


trees = st.lists(st.binary(max_size=16), min_size=1, max_size=140)


@settings(max_examples=60, deadline=None)
@given(data=trees, batch=st.integers(1, 40), pick=st.data())
def test_every_inclusion_proof_verifies_and_any_bit_flip_fails(
    data: list[bytes], batch: int, pick: st.DataObject
) -> None:
    store = _store(data, batch)
    size = pick.draw(st.integers(1, len(data)), label="size")
    index = pick.draw(st.integers(0, size - 1), label="index")
    root = root_hash(store, size)
    proof = inclusion_proof(store, index=index, size=size)
    leaf = leaf_hash(data[index])
    verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)
    assert len(proof) <= (size - 1).bit_length()

    bit = pick.draw(st.integers(0, 255), label="bit")
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=_flip(root, bit))
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash=_flip(leaf, bit), index=index, size=size, proof=proof, root=root)
    if proof:
        at = pick.draw(st.integers(0, len(proof) - 1), label="element")
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=bad, root=root)


@settings(max_examples=60, deadline=None)
@given(data=trees, batch=st.integers(1, 40), pick=st.data())
def test_every_consistency_proof_verifies_and_any_bit_flip_fails(
    data: list[bytes], batch: int, pick: st.DataObject
) -> None:
    store = _store(data, batch)
    new = pick.draw(st.integers(1, len(data)), label="new")
    old = pick.draw(st.integers(1, new), label="old")
    old_root, new_root = root_hash(store, old), root_hash(store, new)
    proof = consistency_proof(store, old_size=old, new_size=new)
    verify_consistency(
        old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
    )

    bit = pick.draw(st.integers(0, 255), label="bit")
    for a, b in [(_flip(old_root, bit), new_root), (old_root, _flip(new_root, bit))]:
        with pytest.raises(ProofError):
            verify_consistency(old_size=old, new_size=new, old_root=a, new_root=b, proof=proof)
    if proof:
        at = pick.draw(st.integers(0, len(proof) - 1), label="element")
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(
                old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=bad
            )


@settings(max_examples=40, deadline=None)
@given(data=trees, batches=st.lists(st.integers(1, 30), min_size=1, max_size=10))
def test_batching_does_not_change_the_tree(data: list[bytes], batches: list[int]) -> None:
    whole = _store(data)
    store, at, turn = MemoryNodeStore(), 0, 0
    while at < len(data):
        step = batches[turn % len(batches)]
        append_leaves(store, [leaf_hash(d) for d in data[at : at + step]])
        at, turn = at + step, turn + 1
    assert store.size() == whole.size() == len(data)
    for size in range(len(data) + 1):
        assert root_hash(store, size) == root_hash(whole, size)


def test_memory_store_refuses_runs_that_do_not_continue_their_level() -> None:
    store = MemoryNodeStore()
    append_leaves(store, [leaf_hash(b"a"), leaf_hash(b"b")])
    h = bytes(32)
    for runs in (
        [NodeRun(0, 3, h)],  # a gap after index 1
        [NodeRun(0, 1, h)],  # overwrites index 1
        [NodeRun(3, 0, h)],  # skips level 2
        [NodeRun(0, 2, b"short")],
    ):
        with pytest.raises(ValueError):
            store.put_nodes(runs, 3)
    with pytest.raises(ValueError):
        store.put_nodes([], 1)  # shrinking
