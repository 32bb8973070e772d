"""The texture-preferring crop plan: on the image's content, never overlapping, deterministic."""
import numpy as np
import pytest

from engine import contract


def _half_textured(height=600, width=900, textured_left=True):
    rng = np.random.default_rng(0)
    image = np.full((height, width, 3), 128, np.uint8)  # a flat "sky"
    half = slice(0, width // 2) if textured_left else slice(width // 2, width)
    image[:, half] = rng.integers(0, 256, size=(height, width // 2, 3), dtype=np.uint8)
    return image


@pytest.mark.parametrize("textured_left", [True, False])
def test_crops_go_where_the_texture_is(textured_left):
    image = _half_textured(textured_left=textured_left)
    boxes = contract.plan_for(image, 96, 8, "texture")
    assert len(boxes) == 8
    for box in boxes:
        centre = box.left + box.size // 2
        assert (centre < 450) == textured_left, box


def test_texture_plan_overlaps_only_when_space_runs_out_stays_inside_and_is_deterministic(real_photo):
    boxes = contract.plan_for(real_photo, 64, 12, "texture")  # 300x451: room for 12 apart
    assert boxes == contract.plan_for(real_photo, 64, 12, "texture")
    assert len(boxes) == 12
    for i, a in enumerate(boxes):
        assert 0 <= a.top <= real_photo.shape[0] - 64 and 0 <= a.left <= real_photo.shape[1] - 64
        for b in boxes[i + 1 :]:
            assert abs(a.top - b.top) >= 64 or abs(a.left - b.left) >= 64, (a, b)


def test_small_images_still_get_the_full_grid_whatever_the_plan(real_photo):
    small = real_photo[:100, :150]
    planned = contract.plan_for(small, 64, 8, "texture")
    position = lambda box: (box.top, box.left)  # noqa: E731
    assert sorted(planned, key=position) == sorted(contract.plan_crops(100, 150, 64, 8), key=position)


@pytest.mark.parametrize("crop_size", [96, 160, 224])
def test_coverage_rule_reaches_a_quarter_of_a_megapixel_image(crop_size):
    count = contract.crops_for_coverage(crop_size)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(1000, 1000, 3), dtype=np.uint8)
    boxes = contract.plan_for(image, crop_size, count, "texture")
    covered = np.zeros((1000, 1000), bool)
    for box in boxes:
        covered[box.top : box.top + box.size, box.left : box.left + box.size] = True
    assert covered.mean() >= 0.25, (crop_size, count, len(boxes), covered.mean())


def test_crop_plan_is_model_metadata_and_old_models_mean_grid():
    meta = contract.ModelMetadata(name="m", version="1", crop_size=96, crop_plan="texture")
    props = meta.to_props()
    assert contract.ModelMetadata.from_props(props).crop_plan == "texture"
    del props[contract.KEY_CROP_PLAN]
    assert contract.ModelMetadata.from_props(props).crop_plan == "grid"
    with pytest.raises(contract.ContractError, match="crop plan"):
        contract.ModelMetadata(name="m", version="1", crop_size=96, crop_plan="random").validate()


@pytest.mark.parametrize("height, width", [(768, 384), (384, 192)])  # the texture plan; a full grid of 4 x 2
def test_the_plan_comes_best_first_so_a_cascade_starts_with_the_most_textured_crops(height, width):
    # Texture grows down the image: in position order the first crops would be the flattest;
    # best first, the plan climbs from the bottom row.
    rng = np.random.default_rng(2)
    amplitude = np.linspace(2, 120, height)[:, None, None]
    image = np.clip(128 + rng.normal(size=(height, width, 3)) * amplitude, 0, 255).astype(np.uint8)
    boxes = contract.plan_for(image, 96, 8, "texture")
    assert [b.top for b in boxes] == sorted((b.top for b in boxes), reverse=True)
    assert boxes[0].top == height - 96
