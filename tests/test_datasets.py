"""Dataset loaders on fixture folders in each official layout, and every bad-folder error."""

import numpy as np
import pytest
import scipy.io
from layouts import BUILDERS, SIZE, write_image
from PIL import Image

from syrac.data import datasets
from syrac.errors import BadImagesError, DatasetError
from syrac.storage import readable_images
from syrac.tools import check

COUNTS = [3, 0, 7]


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_each_layout_yields_images_with_their_head_points(tmp_path, fmt):
    BUILDERS[fmt](tmp_path, "test", COUNTS)
    loaded = datasets.samples(fmt, tmp_path, "test")
    assert [len(points) for _, points in loaded] == COUNTS
    for image, points in loaded:
        assert image.is_file() and points.shape[1] == 2
        assert ((points >= 0) & (points <= [SIZE[0], SIZE[1]])).all()
    assert datasets.image_paths(fmt, tmp_path, "test") == [image for image, _ in loaded]


def test_shanghaitech_points_are_read_exactly(tmp_path):
    BUILDERS["shanghaitech"](tmp_path, "train", [2])
    info = scipy.io.loadmat(tmp_path / "train_data/ground-truth/GT_IMG_1.mat")["image_info"]
    (_, points), = datasets.samples("shanghaitech", tmp_path, "train")
    np.testing.assert_array_equal(points, info[0, 0]["location"][0, 0])


def _problems(fmt, root, split="test"):
    with pytest.raises(DatasetError) as caught:
        datasets.samples(fmt, root, split)
    return caught.value.problems


def test_missing_and_empty_folders_say_what_was_expected(tmp_path):
    missing, = _problems("ucf_qnrf", tmp_path / "nowhere")
    assert "nowhere/Test: folder not found" in missing and "ucf_qnrf test images" in missing
    (tmp_path / "test/images").mkdir(parents=True)
    (tmp_path / "test/images/notes.txt").write_text("no images here")
    empty, = _problems("jhu_crowd", tmp_path)
    assert "test/images: no images" in empty


def test_every_pairing_fault_is_reported_at_once_by_file(tmp_path):
    BUILDERS["shanghaitech"](tmp_path, "test", COUNTS)
    (tmp_path / "test_data/ground-truth/GT_IMG_2.mat").unlink()
    write_image(tmp_path / "test_data/images/IMG_9.jpg", 9)
    scipy.io.savemat(tmp_path / "test_data/ground-truth/GT_IMG_42.mat", {"image_info": np.zeros((1, 1))})
    problems = _problems("shanghaitech", tmp_path)
    assert len(problems) == 3
    assert any("IMG_2.jpg: no annotation; expected" in p and "GT_IMG_2.mat" in p for p in problems)
    assert any("IMG_9.jpg: no annotation" in p for p in problems)
    assert any("GT_IMG_42.mat: annotation without an image" in p for p in problems)


@pytest.mark.parametrize("fmt, name, content, expected", [
    ("ucf_qnrf", "Test/img_0001_ann.mat", {"points": np.zeros((2, 2))}, "annPoints"),
    ("shanghaitech", "test_data/ground-truth/GT_IMG_1.mat", {"location": np.zeros((2, 2))}, "image_info"),
    ("ucf_qnrf", "Test/img_0001_ann.mat", {"annPoints": np.zeros((2, 3))}, "N x 2"),
    ("jhu_crowd", "test/gt/0001.txt", "12 abc 4 4 1 0\n", "x y w h o b"),
    ("shanghaitech", "test_data/ground-truth/GT_IMG_1.mat", "not a mat file", "not a MATLAB file"),
])
def test_an_annotation_with_the_wrong_content_names_the_file_and_the_format(tmp_path, fmt, name, content, expected):
    BUILDERS[fmt](tmp_path, "test", [2])
    if isinstance(content, dict):
        scipy.io.savemat(tmp_path / name, content)
    else:
        (tmp_path / name).write_text(content)
    problem, = _problems(fmt, tmp_path)
    assert problem.startswith(str(tmp_path / name)) and expected in problem


def test_an_empty_jhu_annotation_means_no_people(tmp_path):
    BUILDERS["jhu_crowd"](tmp_path, "val", [0, 1])
    assert [len(p) for _, p in datasets.samples("jhu_crowd", tmp_path, "val")] == [0, 1]


def _bad_files(folder):
    write_image(folder / "good_gray.png", 1, "L")
    write_image(folder / "good_rgba.png", 2, "RGBA")
    write_image(folder / "good_cmyk.jpg", 3, "CMYK")
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image")
    write_image(folder / "truncated.jpg", 4)
    data = (folder / "truncated.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    return sorted(folder.iterdir())


def test_bad_images_fail_listing_every_file_or_are_skipped_and_counted(tmp_path):
    paths = _bad_files(tmp_path)
    with pytest.raises(BadImagesError) as caught:
        readable_images(paths, "fail", "check")
    message = str(caught.value)
    assert all(name in message for name in ("zero.jpg", "text.jpg", "truncated.jpg"))
    assert "good" not in message and "data.bad_images: skip" in message
    kept, skipped = readable_images(paths, "skip", "check")
    assert skipped == 3 and sorted(p.name for p in kept) == ["good_cmyk.jpg", "good_gray.png", "good_rgba.png"]
    for path in kept:
        assert Image.open(path).mode in ("L", "RGBA", "CMYK")  # the files really are in those modes


def test_check_lists_every_problem_of_params_and_folders(tmp_path, capsys):
    BUILDERS["ucf_qnrf"](tmp_path / "qnrf", "test", [1])
    BUILDERS["ucf_qnrf"](tmp_path / "qnrf", "train", [2])  # the ablation's oracle reads the training split too
    (tmp_path / "qnrf/Test/img_0001_ann.mat").unlink()
    params = (check.config.Path("params.yaml").read_text()
              .replace("  # ucf_qnrf:       {format: ucf_qnrf, root: datasets/UCF-QNRF_ECCV18, split: test}",
                       f"  ucf_qnrf: {{format: ucf_qnrf, root: {tmp_path / 'qnrf'}, split: test}}\n"
                       f"  jhu: {{format: jhu_crowd, root: {tmp_path / 'none'}, split: test}}")
              .replace("    sim_dense: 2 ", "    ucf_qnrf: 2\n    jhu: 2\n    sim_dense: 2 "))
    (tmp_path / "params.yaml").write_text(params)
    assert check.main([str(tmp_path / "params.yaml")]) == 1
    out = capsys.readouterr().out
    assert "benchmarks.ucf_qnrf:" in out and "img_0001.jpg: no annotation" in out
    assert "benchmarks.jhu:" in out and "jhu_crowd test images" in out and "jhu_crowd train images" in out
    assert "3 problem(s) found" in out
    (tmp_path / "params.yaml").write_text(
        params.replace("sim_sparse: 1 ", "sim_sparse: 0 ").replace("lr: 0.0003", "lr: -1")
    )
    assert check.main([str(tmp_path / "params.yaml")]) == 1
    out = capsys.readouterr().out
    assert "evaluate.patches.sim_sparse = 0" in out and "pretrain.lr = -1" in out


def test_check_passes_on_the_default_params(capsys):
    assert check.main(["params.yaml"]) == 0
    assert "ready to run" in capsys.readouterr().out


def test_a_huge_image_is_read_without_the_decompression_bomb_guard(tmp_path):
    import warnings

    from syrac.storage import read_image

    Image.new("L", (16000, 12000), 90).save(tmp_path / "huge.png")  # 192 MP: Pillow refuses above ~179 MP
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a DecompressionBombWarning
        image = read_image(tmp_path / "huge.png")
    assert image.size == (16000, 12000) and image.mode == "RGB" and image.getpixel((8000, 6000)) == (90, 90, 90)


def test_an_image_over_the_decoding_budget_is_refused_from_its_header_or_decoded_reduced(tmp_path):
    from syrac.storage import REDUCED_FROM, read_image

    Image.new("L", (400, 300), 90).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match=r"big.png: too large to decode \(400 x 300 pixels, over the budget of 50,000"):
        read_image(tmp_path / "big.png", max_pixels=50_000)  # a PNG decodes whole or not at all
    Image.new("RGB", (400, 300), (90, 120, 30)).save(tmp_path / "big.jpg", quality=95)
    reduced = read_image(tmp_path / "big.jpg", max_pixels=50_000)  # JPEG decodes at 1/2, 1/4 or 1/8
    assert reduced.size == (200, 150) and reduced.info[REDUCED_FROM] == (400, 300)
    assert np.abs(np.asarray(reduced, int) - (90, 120, 30)).max() <= 3
    assert REDUCED_FROM not in read_image(tmp_path / "big.jpg").info


def test_a_training_split_holds_out_one_image_in_five_for_development_and_records_it(tmp_path):
    """Every 5th image of the sorted listing (from the first) is the development part: training
    stages never see it, and build_benchmarks writes its manifest beside the training split's."""
    from syrac.config import DatasetSources, DatasetSplit
    from syrac.data.benchmarks import DEVELOPMENT_MANIFEST, import_benchmark, read_manifest
    from syrac.data.datasets import development_part, image_paths, training_images, unlabelled_photos

    BUILDERS["shanghaitech"](tmp_path / "part_B", "train", list(range(1, 12)))
    listing = image_paths("shanghaitech", tmp_path / "part_B", "train")  # IMG_1, IMG_10, IMG_11, IMG_2, ...
    held = [p.name for p in development_part(listing)]
    assert held == ["IMG_1.jpg", "IMG_4.jpg", "IMG_9.jpg"]
    training = [p.name for p in training_images("shanghaitech", tmp_path / "part_B", "train")]
    assert len(training) == 8 and not set(held) & set(training)
    BUILDERS["shanghaitech"](tmp_path / "part_B", "test", [1, 2])  # a test split has no development part
    assert training_images("shanghaitech", tmp_path / "part_B", "test") == image_paths(
        "shanghaitech", tmp_path / "part_B", "test"
    )
    declared = (DatasetSources("shanghaitech", str(tmp_path / "part_B"), "train"),
                DatasetSources("shanghaitech", str(tmp_path / "part_B"), "test"))
    assert [p.name for p in unlabelled_photos(declared)] == training + ["IMG_1.jpg", "IMG_2.jpg"]  # in order
    bench = DatasetSplit("shanghaitech", str(tmp_path / "part_B"), "test")
    import_benchmark(bench, "b", tmp_path / "images", tmp_path / "truth", "fail", "train")
    assert read_manifest(tmp_path / "images", DEVELOPMENT_MANIFEST)[0] == held
    assert len(read_manifest(tmp_path / "images")[0]) == 11  # the whole split stays the oracle's
