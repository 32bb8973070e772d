"""The TensorFlow.js layers-model reader, on small hand-written graphs whose output is known."""
import json

import numpy as np
import pytest
import torch

from training.data.forge.nets.tfjs_layers import TfjsLayersModel, UnsupportedModel, depth_to_space


def _layer(kind, name, inputs, **config):
    return {"class_name": kind, "name": name, "config": {"name": name, **config},
            "inbound_nodes": [[[source, 0, 0, {}] for source in inputs]] if inputs else []}


def _write(folder, layers, weights, output, quantise=False):
    """model.json + one shard; `weights` maps names to float arrays (stored uint8-quantised if asked)."""
    manifest, blob = [], b""
    for name, array in weights.items():
        entry = {"name": name, "shape": list(array.shape), "dtype": "float32"}
        if quantise:
            low, scale = float(array.min()), float(np.ptp(array) / 255 or 1.0)
            entry["quantization"] = {"dtype": "uint8", "min": low, "scale": scale, "original_dtype": "float32"}
            blob += np.round((array - low) / scale).astype(np.uint8).tobytes()
        else:
            blob += array.astype("<f4").tobytes()
        manifest.append(entry)
    (folder / "group1-shard1of1.bin").write_bytes(blob)
    spec = {"format": "layers-model", "modelTopology": {"model_config": {"class_name": "Functional", "config": {
        "name": "g", "layers": layers, "input_layers": [["LR", 0, 0]], "output_layers": [[output, 0, 0]]}}},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": manifest}]}
    (folder / "model.json").write_text(json.dumps(spec))
    return folder / "model.json"


def test_depth_to_space_follows_tensorflow_not_torch():
    # TensorFlow's documented example: channels [1..12] of one pixel, block 2 -> a 2x2 pixel of 3 channels,
    # the first three channels top-left ([[1,2,3],[4,5,6]],[[7,8,9],[10,11,12]]); torch.pixel_shuffle differs
    x = torch.arange(1.0, 13.0).view(1, 12, 1, 1)
    out = depth_to_space(x, 2)[0].permute(1, 2, 0)  # HWC
    assert out.tolist() == [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]
    assert not torch.equal(torch.nn.functional.pixel_shuffle(x, 2), depth_to_space(x, 2))


@pytest.mark.parametrize("quantise", [False, True])
def test_a_dense_block_with_upsampling_matches_the_same_graph_written_in_torch(tmp_path, quantise):
    rng = np.random.default_rng(0)
    k1, b1 = rng.normal(0, 0.3, (3, 3, 3, 4)), rng.normal(0, 0.1, 4)
    k2, b2 = rng.normal(0, 0.3, (1, 1, 7, 12)), rng.normal(0, 0.1, 12)
    k3 = rng.normal(0, 0.3, (5, 5, 3, 3))
    layers = [
        _layer("InputLayer", "LR", []),
        _layer("Conv2D", "F1", ["LR"], kernel_size=[3, 3], strides=[1, 1], padding="same", activation="linear", use_bias=True),
        _layer("Activation", "R1", ["F1"], activation="relu"),
        _layer("Concatenate", "C1", ["LR", "R1"], axis=3),
        _layer("Conv2D", "F2", ["C1"], kernel_size=[1, 1], strides=[1, 1], padding="valid", activation="linear", use_bias=True),
        _layer("PixelShuffle2x", "PS", ["F2"], scale=2),
        _layer("MultiplyBeta", "B", ["PS"], beta=0.2),
        _layer("UpSampling2D", "UP", ["LR"], size=[2, 2], interpolation="nearest"),
        _layer("Add", "SUM", ["B", "UP"]),
        _layer("Conv2D", "SR", ["SUM"], kernel_size=[5, 5], strides=[1, 1], padding="same", activation="linear", use_bias=False),
    ]
    weights = {"F1/kernel": k1, "F1/bias": b1, "F2/kernel": k2, "F2/bias": b2, "SR/kernel": k3}
    model = TfjsLayersModel(_write(tmp_path, layers, weights, "SR", quantise), input_scale=255.0)
    if quantise:  # what was stored: the dequantised values are the network's weights
        weights = {n: np.round((a - a.min()) / (np.ptp(a) / 255)) * np.float32(np.ptp(a) / 255) + np.float32(a.min())
                   for n, a in weights.items()}

    def conv(x, kernel, bias, pad):
        w = torch.from_numpy(np.asarray(kernel, np.float32).transpose(3, 2, 0, 1).copy())
        return torch.nn.functional.conv2d(x, w, None if bias is None else torch.tensor(bias, dtype=torch.float32), padding=pad)

    x = torch.from_numpy(rng.random((1, 3, 6, 5), dtype=np.float32))
    lr = x * 255
    r1 = torch.relu(conv(lr, weights["F1/kernel"], weights["F1/bias"], 1))
    f2 = conv(torch.cat([lr, r1], 1), weights["F2/kernel"], weights["F2/bias"], 0)
    # channels-last depth_to_space by hand: channel (dy*2 + dx)*3 + c lands at (2y+dy, 2x+dx, c)
    ps = torch.zeros(1, 3, 12, 10)
    for dy in range(2):
        for dx in range(2):
            ps[0, :, dy::2, dx::2] = f2[0, (dy * 2 + dx) * 3:(dy * 2 + dx) * 3 + 3]
    expected = conv(ps * 0.2 + lr.repeat_interleave(2, 2).repeat_interleave(2, 3), weights["SR/kernel"], None, 2) / 255
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 3, 12, 10)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


def test_what_it_cannot_run_is_refused_by_name(tmp_path):
    base = [_layer("InputLayer", "LR", []),
            _layer("Conv2D", "F1", ["LR"], kernel_size=[3, 3], strides=[1, 1], padding="same", activation="linear", use_bias=True)]
    weights = {"F1/kernel": np.zeros((3, 3, 3, 3)), "F1/bias": np.zeros(3)}
    with pytest.raises(UnsupportedModel, match="BatchNormalization"):
        TfjsLayersModel(_write(tmp_path, base + [_layer("BatchNormalization", "BN", ["F1"])], weights, "BN"))
    with pytest.raises(UnsupportedModel, match="stride 1"):
        strided = [base[0], _layer("Conv2D", "F1", ["LR"], kernel_size=[3, 3], strides=[2, 2], padding="same", use_bias=True)]
        TfjsLayersModel(_write(tmp_path, strided, weights, "F1"))
    with pytest.raises(UnsupportedModel, match="no layer uses"):
        TfjsLayersModel(_write(tmp_path, base, {**weights, "extra/kernel": np.zeros(2)}, "F1"))
    refusals = {
        "even kernel": ([base[0], _layer("Conv2D", "F1", ["LR"], kernel_size=[2, 2], strides=[1, 1], padding="same", use_bias=True)],
                        {"F1/kernel": np.zeros((2, 2, 3, 3)), "F1/bias": np.zeros(3)}, "F1"),
        "'gelu' is not supported": (base + [_layer("Activation", "A", ["F1"], activation="gelu")], weights, "A"),
        "only the channel axis": (base + [_layer("Concatenate", "C", ["LR", "F1"], axis=1)], weights, "C"),
        "out of order": ([base[0], _layer("Activation", "A", ["F1"], activation="relu"), base[1]], weights, "A"),
        "channels_first": ([base[0], _layer("Conv2D", "F1", ["LR"], kernel_size=[3, 3], strides=[1, 1], padding="same",
                                            use_bias=True, data_format="channels_first")], weights, "F1"),
        "no F1/bias": (base, {"F1/kernel": np.zeros((3, 3, 3, 3))}, "F1"),
    }
    for said, (layers, layer_weights, output) in refusals.items():
        with pytest.raises(UnsupportedModel, match=said):
            TfjsLayersModel(_write(tmp_path, layers, layer_weights, output))
    path = _write(tmp_path, base, weights, "F1")
    shard = tmp_path / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-8])
    with pytest.raises(UnsupportedModel, match="bytes"):
        TfjsLayersModel(path)
