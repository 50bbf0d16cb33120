"""The FID Inception-v3: architecture facts of the reference port, safe loading, preprocessing, invariants.

No network and no real weights are needed: a random state dict with the reference key names and shapes is saved
with torch.save and its SHA-256 pinned as the expected one. A last test runs on the real pytorch-fid file if it
is already in the cache, and is skipped otherwise.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import urllib.error

import numpy as np
import pytest
import torch

import gankit.metrics.inception as inc
import gankit.metrics.inception_weights as incw  # where the weights code reads EXPECTED_SHA256: tests patch it there
from gankit.errors import DataError
from gankit.metrics.inception import (
    EXPECTED_SHA256,
    WEIGHTS_FILENAME,
    WEIGHTS_URL,
    FIDInceptionV3,
    find_weights,
    load_fid_inception,
    load_state,
    sha256_file,
)

# Facts from the reference (torchvision's Inception3 as patched by pytorch-fid: aux_logits=False, 1008 classes).
REFERENCE_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch_pool.conv.weight": (64, 288, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7c.branch3x3_2b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
# torchvision documents 27,161,264 parameters for inception_v3 (1000 classes, with the auxiliary classifier).
# Without AuxLogits (conv0 768·128 + BN 2·128, conv1 128·768·25 + BN 2·768, fc 768·1000 + 1000 = 3,326,696)
# and with 1008 instead of 1000 classes (+8·2049): 27,161,264 - 3,326,696 + 16,392.
REFERENCE_N_PARAMS = 27_161_264 - 3_326_696 + 8 * 2049
N_BASIC_CONVS = 94  # stem 5 + 3×7 (A) + 4 (B) + 4×10 (C) + 6 (D) + 2×9 (E)


def random_state(model: torch.nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the model's keys and shapes and values that keep activations O(1) through the depth.

    He-scaled convolutions; BatchNorm near identity with a positive running variance.
    """
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, ref in model.state_dict().items():
        shape = ref.shape
        if key.endswith("conv.weight"):
            out[key] = torch.randn(shape, generator=g) * math.sqrt(2.0 / ref[0].numel())
        elif key.endswith(("bn.weight", "running_var")):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(("bn.bias", "running_mean")) or key == "fc.bias":
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.long)
        elif key == "fc.weight":
            out[key] = torch.randn(shape, generator=g) / math.sqrt(shape[1])
        else:
            raise KeyError(key)
    return out


def bilinear_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres and edge clamping, no anti-aliasing: (N, C, H, W) -> (N, C, h, w).

    Source coordinate of output pixel i: max((i + 0.5) · in/out - 0.5, 0); neighbours floor() and floor()+1,
    clamped to the last row/column.
    """
    def axis(n_in: int, n_out: int):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0

    r0, r1, wr = axis(img.shape[2], out_h)
    c0, c1, wc = axis(img.shape[3], out_w)
    top = img[:, :, r0][:, :, :, c0] * (1 - wc) + img[:, :, r0][:, :, :, c1] * wc
    bottom = img[:, :, r1][:, :, :, c0] * (1 - wc) + img[:, :, r1][:, :, :, c1] * wc
    return top * (1 - wr)[:, None] + bottom * wr[:, None]


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """(path, sha256, state) of a random state dict saved with torch.save in the reference layout.

    Written in PyTorch's legacy (pre-1.6, non-zip) format, like the real pytorch-fid file.
    """
    state = random_state(FIDInceptionV3())
    path = tmp_path_factory.mktemp("weights") / WEIGHTS_FILENAME
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return path, sha256_file(path), state


@pytest.fixture(scope="module")
def model(weights_file):
    """The network loaded from that file through load_fid_inception (digest pinned to the file's)."""
    path, digest, _ = weights_file
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(incw, "EXPECTED_SHA256", digest)
        return load_fid_inception(path)


@pytest.fixture(scope="module")
def images():
    """Four 32×32 RGB images in [-1, 1]."""
    g = torch.Generator().manual_seed(1)
    return torch.rand(4, 3, 32, 32, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def batch_out(model, images):
    """model(images) as one batch of 4 (the forward passes are the slow part: computed once)."""
    with torch.no_grad():
        return model(images)


# ---------------------------------------------------------------------------------------------- architecture
def test_keys_and_shapes_match_the_reference(model):
    sd = model.state_dict()
    for key, shape in REFERENCE_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    assert sum(k.endswith("conv.weight") for k in sd) == N_BASIC_CONVS
    assert sum(k.endswith("bn.running_mean") for k in sd) == N_BASIC_CONVS
    assert not any(k.endswith("conv.bias") for k in sd)  # convolutions carry no bias; BN does the shift
    assert len(sd) == N_BASIC_CONVS * 6 + 2  # conv.weight + 5 BN entries each, fc.weight, fc.bias
    assert not any("AuxLogits" in k for k in sd)


def test_parameter_count_and_batchnorm_eps(model):
    m = model
    assert sum(p.numel() for p in m.parameters()) == REFERENCE_N_PARAMS == 23_850_960
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert len(bns) == N_BASIC_CONVS and all(bn.eps == 0.001 for bn in bns)
    assert not m.training and not any(p.requires_grad for p in m.parameters())


def test_fid_specific_pool_branches(model):
    kinds = {name: getattr(model, name).pool_kind for name in
             ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7b",
              "Mixed_7c")}
    assert kinds.pop("Mixed_7c") == "max" and set(kinds.values()) == {"avg"}
    # TF 'SAME' average pooling ignores padding: a constant map stays constant, borders included.
    const = torch.full((1, 2, 5, 5), 3.0)
    torch.testing.assert_close(inc._same_pool3x3(const, "avg"), const)
    ramp = torch.arange(25.0).reshape(1, 1, 5, 5)
    avg = inc._same_pool3x3(ramp, "avg")
    assert avg[0, 0, 0, 0].item() == pytest.approx((0 + 1 + 5 + 6) / 4)  # corner: 4 in-image values
    assert avg[0, 0, 2, 2].item() == pytest.approx(ramp[0, 0, 1:4, 1:4].mean().item())
    mx = inc._same_pool3x3(ramp, "max")
    assert mx[0, 0, 0, 0].item() == 6.0 and mx[0, 0, 4, 4].item() == 24.0


# --------------------------------------------------------------------------------------------- loading a file
def test_load_from_file_gives_the_saved_weights(model, weights_file):
    _, _, state = weights_file
    sd = model.state_dict()
    for key, value in state.items():
        torch.testing.assert_close(sd[key], value, rtol=0, atol=0)
    assert not model.training


def test_outputs_shapes_and_ranges(model, batch_out):
    pool3, logits, unbiased = batch_out["pool3"], batch_out["logits"], batch_out["logits_unbiased"]
    assert pool3.shape == (4, 2048) and logits.shape == (4, 1008) and unbiased.shape == (4, 1008)
    assert torch.isfinite(pool3).all() and torch.isfinite(logits).all()
    assert (pool3 >= 0).all() and pool3.max() > 0  # mean of ReLU outputs
    w, b = model.fc.weight.double(), model.fc.bias.double()
    torch.testing.assert_close(unbiased.double(), pool3.double() @ w.T, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(logits.double(), pool3.double() @ w.T + b, rtol=1e-5, atol=1e-4)


def test_probs_are_softmax_of_the_logits(model, images, batch_out):
    # Default: softmax of the unbiased logits (Salimans et al.'s IS code, torch-fidelity); with_bias: of fc(pool3).
    for with_bias, key in ((False, "logits_unbiased"), (True, "logits")):
        p = model.probs(images[:1], with_bias=with_bias)
        assert p.shape == (1, 1008) and (p >= 0).all()
        torch.testing.assert_close(p.sum(1), torch.ones(1), rtol=0, atol=1e-5)
        torch.testing.assert_close(p, torch.softmax(batch_out[key][:1], 1), rtol=1e-4, atol=1e-6)


def test_batch_size_independence(model, images, batch_out):
    singles = torch.cat([model.features(images[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(singles, batch_out["pool3"], rtol=1e-5, atol=1e-5)


def test_resize_inside_forward_is_bilinear_half_pixel(model, images, batch_out):
    resized = torch.from_numpy(bilinear_reference(images.double().numpy(), 299, 299)).float()
    # (float32 coordinate arithmetic in torch: agreement to ~1e-6 of the value range, not bit-exact)
    torch.testing.assert_close(model._prepare(images), resized, rtol=0, atol=1e-5)
    # The same image given pre-resized to 299×299 gives the same features.
    torch.testing.assert_close(model.features(resized[:1]), batch_out["pool3"][:1], rtol=1e-4, atol=1e-4)


def test_downsampling_is_not_antialiased(model):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 517, 403, generator=g) * 2 - 1
    ref = torch.from_numpy(bilinear_reference(x.double().numpy(), 299, 299)).float()
    got = model._prepare(x)
    torch.testing.assert_close(got, ref, rtol=0, atol=5e-4)  # float32 source coordinates at scale 517/299
    antialiased = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", antialias=True)
    assert (got - antialiased).abs().max() > 0.1  # the check above can tell the two resizers apart


def test_grey_is_repeated_to_rgb_and_bad_inputs_are_refused(model):
    m = model
    grey = torch.rand(2, 1, 20, 24) * 2 - 1
    torch.testing.assert_close(m._prepare(grey), m._prepare(grey.repeat(1, 3, 1, 1)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="uint8"):
        m.features(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        m.features(torch.zeros(1, 4, 8, 8))


# -------------------------------------------------------------------------------------- what must be refused
def test_wrong_digest_is_refused_before_torch_load(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(a) or pytest.fail("torch.load was called"))
    bad = tmp_path / WEIGHTS_FILENAME
    bad.write_bytes(b"not the weights")
    digest = sha256_file(bad)
    for call in (lambda: load_fid_inception(bad), lambda: find_weights(bad), lambda: load_fid_inception(
            cache_dir=tmp_path)):
        with pytest.raises(DataError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg and str(bad) in msg and digest in msg and EXPECTED_SHA256 in msg
        assert WEIGHTS_URL in msg
    assert calls == []


def test_missing_file_names_the_cache_path_and_the_url(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    with pytest.raises(DataError) as err:
        load_fid_inception(cache_dir=empty)
    msg = str(err.value)
    assert "\n" not in msg and str(empty / WEIGHTS_FILENAME) in msg and WEIGHTS_URL in msg
    assert not empty.exists()  # looking does not create anything

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "root"))
    with pytest.raises(DataError, match="root") as err:
        find_weights()
    assert str(tmp_path / "root" / "weights" / WEIGHTS_FILENAME) in str(err.value)

    with pytest.raises(DataError) as err:
        find_weights(tmp_path / "nope.pth")
    assert str(tmp_path / "nope.pth") in str(err.value) and WEIGHTS_URL in str(err.value)


def test_malicious_pickle_with_the_right_digest_is_refused(tmp_path, monkeypatch):
    sentinel = tmp_path / "SENTINEL"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {sentinel}",)

    path = tmp_path / "evil.pth"
    torch.save({"fc.weight": Evil()}, path)  # pickling only records the call; nothing runs here
    monkeypatch.setattr(incw, "EXPECTED_SHA256", sha256_file(path))
    with pytest.raises(DataError) as err:
        load_fid_inception(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "weights_only" in msg
    assert not sentinel.exists()

    # A raw (non-zip) pickle is refused the same way.
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(Evil(), protocol=2))
    monkeypatch.setattr(incw, "EXPECTED_SHA256", sha256_file(raw))
    with pytest.raises(DataError, match="weights_only"):
        load_fid_inception(raw)
    assert not sentinel.exists()


def test_load_state_names_the_first_bad_key(weights_file):
    _, _, state = weights_file
    m = FIDInceptionV3()  # a fresh one: this test loads into it
    bad = dict(state)
    bad["Mixed_6b.branch7x7_2.conv.weight"] = torch.zeros(128, 128, 7, 1)  # transposed kernel
    with pytest.raises(DataError, match=r"Mixed_6b\.branch7x7_2\.conv\.weight.*\(128, 128, 7, 1\).*\(128, 128, 1, 7\)"):
        load_state(m, bad, source="x.pth")
    missing = {k: v for k, v in state.items() if k != "fc.bias"}
    with pytest.raises(DataError, match=r"x\.pth: missing key 'fc\.bias'"):
        load_state(m, missing, source="x.pth")
    extra = dict(state, **{"AuxLogits.fc.weight": torch.zeros(1008, 768)})
    with pytest.raises(DataError, match="unexpected key 'AuxLogits.fc.weight'"):
        load_state(m, extra, source="x.pth")
    with pytest.raises(DataError, match="not a tensor"):
        load_state(m, dict(state, **{"fc.bias": [0.0] * 1008}), source="x.pth")
    with pytest.raises(DataError, match="expected a state dict"):
        load_state(m, [1, 2], source="x.pth")
    # Files from old PyTorch versions have no num_batches_tracked counters; they load.
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    load_state(m, old, source="x.pth")
    torch.testing.assert_close(m.fc.weight, state["fc.weight"], rtol=0, atol=0)


# ------------------------------------------------------------------------------------------- finding a file
def test_find_weights_from_cache_env_and_explicit_path(weights_file, tmp_path, monkeypatch):
    path, digest, _ = weights_file
    monkeypatch.setattr(incw, "EXPECTED_SHA256", digest)
    assert find_weights(path) == path
    assert find_weights(cache_dir=path.parent) == path
    cache = tmp_path / "root" / "weights"
    cache.mkdir(parents=True)
    (cache / WEIGHTS_FILENAME).symlink_to(path)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "root"))
    assert find_weights() == cache / WEIGHTS_FILENAME


def test_download_is_verified_before_it_lands(tmp_path, monkeypatch):
    payload = b"pretend weights " * 4096
    served = {"bytes": payload}
    monkeypatch.setattr(incw.urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(served["bytes"]))
    monkeypatch.setattr(incw, "EXPECTED_SHA256", hashlib.sha256(payload).hexdigest())

    cache = tmp_path / "cache"
    got = find_weights(cache_dir=cache, download=True)
    assert got == cache / WEIGHTS_FILENAME and got.read_bytes() == payload
    assert sorted(p.name for p in cache.iterdir()) == [WEIGHTS_FILENAME]  # no temporary left behind

    served["bytes"] = payload[:-1] + b"!"  # a corrupted transfer
    other = tmp_path / "other"
    with pytest.raises(DataError) as err:
        find_weights(cache_dir=other, download=True)
    assert "\n" not in str(err.value) and WEIGHTS_URL in str(err.value)
    assert list(other.iterdir()) == []  # nothing half-written

    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(incw.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="could not download") as err:
        find_weights(cache_dir=other, download=True)
    assert str(other / WEIGHTS_FILENAME) in str(err.value)
    assert list(other.iterdir()) == []


# ----------------------------------------------------------------------------------- the real file, if cached
def test_real_weights_if_present():
    try:
        path = inc.default_cache_dir() / WEIGHTS_FILENAME
        if not path.is_file():
            pytest.skip(f"real FID Inception weights not cached at {path}")
    except RuntimeError:  # no home directory
        pytest.skip("no cache directory")
    m = load_fid_inception(path)  # verifies the real digest
    x = torch.linspace(-1, 1, 2 * 3 * 64 * 64).reshape(2, 3, 64, 64)
    out = m(x)
    assert out["pool3"].shape == (2, 2048) and (out["pool3"] >= 0).all()
    torch.testing.assert_close(m.probs(x).sum(1), torch.ones(2), rtol=0, atol=1e-5)


def test_extractor_probs_are_the_unbiased_softmax(weights_file, model, images, batch_out):
    """`gankit evaluate --metrics is` and training-time IS take p(y|x) from the inception-v3-fid extractor: the softmax of
    pool3·Wᵀ *without* the bias (Salimans et al.'s code, torch-fidelity), as FIDInceptionV3.probs() defines it."""
    from gankit.metrics.features import build_extractor

    path, digest, _ = weights_file
    assert model.fc.bias.abs().max() > 0.1  # a bias that matters: the two definitions differ
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(incw, "EXPECTED_SHA256", digest)
        ext = build_extractor("inception-v3-fid", weights=str(path))
    out = ext(images)
    unbiased = torch.softmax(batch_out["logits_unbiased"].double(), 1).numpy()
    biased = torch.softmax(batch_out["logits"].double(), 1).numpy()
    assert np.allclose(out["probs"], unbiased, atol=1e-6)
    assert not np.allclose(out["probs"], biased, atol=1e-3)
    assert np.allclose(out["probs"], model.probs(images).double().numpy(), atol=1e-6)
