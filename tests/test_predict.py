"""predict: the scores as bars, a person's own digit brought to MNIST's form (--image,
--show-input), and the dot products drawn (--explain)."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image, ImageDraw

from gdcli.cli.evaluate import score_bars
from gdcli.data.digit import STROKE, THIN, centre_of_mass, stroke_width, to_mnist_form
from gdcli.data.images import read_grey
from gdcli.data.transforms import deskew
from gdcli.io import weights_file
from gdcli.io.weights_file import WeightsFile
from gdcli.nn.model import Layer, Network
from gdcli.viz.explain import effective_weights, explain_png


def draw(digit, size=(400, 300), at=(230, 40), scale=1.0, ink=20, paper=245, width=22):
    """A digit as a paint program draws it: dark strokes `width` pixels wide on light paper,
    210 * scale pixels tall, its top left at `at`."""
    img = Image.new("L", size, paper)
    d = ImageDraw.Draw(img)
    x, y = at
    w = round(width * scale)

    def p(px, py):
        return (x + px * scale, y + py * scale)

    if digit == 0:
        d.ellipse([p(0, 0), p(120, 210)], outline=ink, width=w)
    elif digit == 1:
        d.line([p(30, 40), p(60, 0), p(60, 210)], fill=ink, width=w, joint="curve")
    elif digit == 3:
        d.arc([p(0, 0), p(120, 105)], -150, 90, fill=ink, width=w)
        d.arc([p(0, 105), p(120, 210)], -90, 150, fill=ink, width=w)
    elif digit == 6:
        d.ellipse([p(0, 90), p(120, 210)], outline=ink, width=w)
        d.arc([p(0, 0), p(240, 300)], 180, 250, fill=ink, width=w)
    elif digit == 7:
        d.line([p(0, 0), p(130, 0), p(50, 210)], fill=ink, width=w, joint="curve")
    return img


def as_rgba_ink(img):
    """The drawing's strokes in black on a transparent canvas (as paint apps export)."""
    alpha = 255 - np.asarray(img)
    rgba = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    return Image.fromarray(rgba, "RGBA")


def as_16_bit(img):
    return Image.fromarray((np.asarray(img).astype(np.uint16) * 257).astype(np.uint16))


# picture variants: (file name, how it is saved, is its ink dark on light?)
VARIANTS = {
    "dark-on-light.png": (lambda img, p: img.save(p), True),
    "photo.jpg": (lambda img, p: img.convert("RGB").save(p, quality=85), True),
    "light-on-dark.png": (lambda img, p: Image.eval(img, lambda v: 255 - v).save(p), False),
    "transparent.png": (lambda img, p: as_rgba_ink(img).save(p), True),
    "deep.png": (lambda img, p: as_16_bit(img).save(p), True),
    "small.bmp": (lambda img, p: img.resize((40, 30), Image.Resampling.BOX).save(p), True),
}


@pytest.fixture(scope="module")
def synthetic_weights(tmp_path_factory, synthetic_data_dir):
    folder = tmp_path_factory.mktemp("predict")
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "600",
                     "--epochs", "5", "--quiet", cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder / "weights.npz"


def ink_box(pixels: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(pixels.any(axis=1))
    cols = np.flatnonzero(pixels.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_drawn_digit_is_brought_to_mnist_form(tmp_path, synthetic_weights, variant):
    save, dark_on_light = VARIANTS[variant]
    save(draw(1), tmp_path / variant)
    result = run_cli("predict", str(synthetic_weights), "--image", variant, "--show-input",
                     "fed.png", "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["image"]["inverted"] is dark_on_light
    assert ("dark ink on a light background" in result.stderr) is dark_on_light
    assert out["written"] == ["fed.png"]

    fed = Image.open(tmp_path / "fed.png")
    assert fed.size == (28, 28) and fed.mode == "L"
    pixels = np.asarray(fed) / 255
    assert pixels.max() == 1.0  # MNIST's full ink
    height, width = ink_box(pixels)
    assert height == 20 and width <= 8  # a tall '1' fills the 20x20 box's height
    r, c = centre_of_mass(pixels)
    assert abs(r - 14) <= 0.55 and abs(c - 14) <= 0.55, (r, c)
    assert pixels[0].sum() == pixels[-1].sum() == pixels[:, 0].sum() == pixels[:, -1].sum() == 0


def test_the_same_digit_anywhere_at_any_size_gives_the_same_input(tmp_path):
    """Position, size and polarity do not matter: the 28x28 is the same to within
    anti-aliasing."""
    a = to_mnist_form(np.asarray(draw(7, at=(20, 20)), dtype=np.float64) / 255)
    b = to_mnist_form(np.asarray(draw(7, size=(900, 700), at=(500, 300), scale=1.8),
                                 dtype=np.float64) / 255)  # fmt: skip
    c = to_mnist_form(1 - np.asarray(draw(7, at=(20, 20)), dtype=np.float64) / 255)
    assert a.inverted and b.inverted and not c.inverted
    assert np.abs(a.pixels - b.pixels).mean() < 0.02
    assert np.allclose(a.pixels, c.pixels)
    wide = np.zeros((50, 200))
    wide[20:30, 10:190] = 1.0  # a wide stroke keeps its aspect ratio: 20 wide, ~1 tall
    form = to_mnist_form(wide)
    assert ink_box(form.pixels)[1] == 20 and ink_box(form.pixels)[0] <= 2


def test_stroke_width_measures_a_bar_and_a_ring():
    bar = np.zeros((60, 60))
    bar[10:50, 28:31] = 1.0  # 3 wide, 40 long: 2 * 120 / 86
    assert stroke_width(bar) == pytest.approx(240 / 86)
    ring = np.asarray(draw(0, size=(300, 300), at=(40, 40), width=10), dtype=np.float64)
    assert 7 <= stroke_width(1 - ring / 255) <= 10.5  # round strokes read a little thin


@pytest.mark.parametrize("digit", [0, 1, 3, 7])
def test_a_thin_pen_is_thickened_to_mnist_strokes_and_a_thick_one_left(digit):
    """A 3-pixel pen on a digit 200 pixels tall would be a 0.3-pixel stroke in the 20x20 box:
    it is dilated to MNIST's width. A 20-pixel pen is already within MNIST's widths (5th to
    95th percentile 1.32-2.77 by the same measure) and is fitted as drawn."""

    def form(pen):
        img = draw(digit, size=(300, 300), at=(40, 40), scale=200 / 210, width=pen)
        return to_mnist_form(np.asarray(img, dtype=np.float64) / 255)

    thin, thick = form(3), form(20)
    assert thin.thickened and thin.stroke < 0.5 and not thick.thickened and thick.stroke >= THIN
    assert 1.6 <= stroke_width(thin.pixels) <= 2.6, stroke_width(thin.pixels)  # about STROKE
    assert 1.32 <= stroke_width(thick.pixels) <= 2.77
    assert thin.pixels.max() == 1.0 and ink_box(thin.pixels)[0] == 20  # still 20 tall
    r, c = thin.centre
    assert abs(r - 14) <= 0.55 and abs(c - 14) <= 0.55
    # thickened, the thin pen's digit is close to the thick pen's, not a faint outline of it
    assert thin.pixels.sum() >= 0.9 * thick.pixels.sum()
    assert STROKE == 2.0


def test_predict_says_it_thickened_a_thin_pen(tmp_path, synthetic_weights):
    draw(3, size=(300, 300), at=(40, 40), scale=200 / 210, width=3).save(tmp_path / "thin.png")
    result = run_cli("predict", str(synthetic_weights), "--image", "thin.png", "--json",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)["image"]
    assert about["thickened"] is True and about["stroke_width"] < 0.5
    assert "its strokes thickened from 0.2 to MNIST's 2 pixels" in result.stderr


@pytest.mark.parametrize(
    "name, pixels, needle",
    [
        ("white.png", np.full((300, 400), 255, np.uint8), "no ink found: the image is blank"),
        ("grey.png", np.full((30, 40), 128, np.uint8), "one grey level"),
        ("faint.png", np.pad(np.full((10, 10), 240, np.uint8), 20, constant_values=250),
         "contrast 4%"),
        ("clear.png", np.zeros((30, 40, 4), np.uint8), "no ink found"),
    ],
)  # fmt: skip
def test_a_blank_picture_is_one_line_exit_2(tmp_path, synthetic_weights, name, pixels, needle):
    Image.fromarray(pixels).save(tmp_path / name)
    result = run_cli("predict", str(synthetic_weights), "--image", name, "--show-input", "s.png",
                     cwd=tmp_path)  # fmt: skip
    assert_one_line_error(result, 2, name, needle)
    assert not (tmp_path / "s.png").exists()


def test_show_input_fed_back_as_is_gives_the_same_scores(tmp_path, synthetic_weights):
    draw(0).save(tmp_path / "zero.png")
    first = run_cli("predict", str(synthetic_weights), "--image", "zero.png", "--show-input",
                    "fed.png", "--json", cwd=tmp_path)  # fmt: skip
    again = run_cli("predict", str(synthetic_weights), "--image", "fed.png", "--as-is", "--json",
                    cwd=tmp_path)  # fmt: skip
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert b["image"]["as_is"] is True and a["predicted"] == b["predicted"]
    assert np.allclose(a["scores"], b["scores"], atol=0.01)  # fed.png holds 8-bit levels
    assert_one_line_error(run_cli("predict", str(synthetic_weights), "--image", "zero.png",
                                  "--as-is", cwd=tmp_path), 2,
                          "400x300 pixels; --as-is takes a 28x28 image")  # fmt: skip
    assert_one_line_error(run_cli("predict", str(synthetic_weights), "--index", "0", "--as-is"),
                          2, "--as-is applies to --image")  # fmt: skip
    assert_one_line_error(run_cli("predict", str(synthetic_weights), "--index", "0", "--image",
                                  "zero.png", cwd=tmp_path), 2, "exactly one of")  # fmt: skip


def test_the_picture_is_deskewed_when_the_weights_were(tmp_path, synthetic_weights):
    wf = weights_file.load(synthetic_weights)
    wf.meta["config"]["deskew"] = True
    weights_file.save(tmp_path / "deskewed.npz", wf)
    draw(7).save(tmp_path / "seven.png")
    result = run_cli("predict", "deskewed.npz", "--image", "seven.png", "--show-input", "fed.png",
                     "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "deskewed, as the weights were trained" in result.stderr
    form = to_mnist_form(read_grey(tmp_path / "seven.png", max_side=1024))
    expected = deskew(form.pixels.reshape(1, -1))[0]
    fed = np.asarray(Image.open(tmp_path / "fed.png")).ravel() / 255
    assert np.max(np.abs(fed - expected)) <= 0.5 / 255 + 1e-12
    assert np.abs(fed - form.pixels.ravel()).max() > 0.1  # deskewing changed it
    assert np.allclose(json.loads(result.stdout)["scores"], wf.network.scores(expected))


def test_quiet_leaves_stderr_empty(tmp_path, synthetic_weights):
    draw(1).save(tmp_path / "one.png")
    result = run_cli("predict", str(synthetic_weights), "--image", "one.png", "--show-input",
                     "s.png", "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    assert "predicted:" in result.stdout
    for command in ("evaluate", "predict"):
        extra = ["--index", "0"] if command == "predict" else []
        # --quiet is accepted (the data folder is missing: the error still shows)
        assert_one_line_error(run_cli(command, str(synthetic_weights), *extra, "--quiet",
                                      "--data-dir", str(tmp_path)), 1, "not fetched")  # fmt: skip


def test_score_bars_share_one_scale_around_zero():
    bars = score_bars(np.array([-1.0, 0.0, 2.0, 0.5]), 30)
    assert bars == ["##########|", "          |", "          |" + "#" * 20,
                    "          |" + "#" * 5]  # fmt: skip
    assert score_bars(np.array([1.0, 0.25]), 8) == ["#" * 8, "##"]  # no axis without negatives


def test_the_scores_table_has_a_bar_per_class(synthetic_weights, synthetic_data_dir):
    dd = ["--data-dir", str(synthetic_data_dir)]
    out = json.loads(run_cli("predict", str(synthetic_weights), *dd, "--index", "4",
                             "--json").stdout)  # fmt: skip
    for key in ("scores", "predicted", "predicted_class", "label", "outputs", "classes"):
        assert key in out
    table = run_cli("predict", str(synthetic_weights), *dd, "--index", "4")
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 10  # one per class
    winner = next(r for r in rows if "<- predicted" in r)
    assert winner.split("│")[1].strip() == str(out["predicted"])
    scores = np.array(out["scores"])
    longest = max(rows, key=lambda r: r.count("█"))
    assert longest.split("│")[1].strip() == str(int(np.argmax(np.abs(scores))))
    assert f"predicted: {out['predicted']} (label {out['label']})" in table.stdout


# --- --explain -------------------------------------------------------------------------------


def relu_network(rng, hidden="relu"):
    layers = [Layer(rng.randn(784, 12) * 0.1, rng.randn(12) * 0.1, hidden),
              Layer(rng.randn(12, 10), rng.randn(10))]  # fmt: skip
    return Network(layers)


def test_effective_weights_are_exact_for_relu_networks():
    rng = np.random.RandomState(3)
    x = rng.rand(784)
    for net in (relu_network(rng), Network([Layer(rng.randn(784, 10), rng.randn(10))])):
        w, b = effective_weights(net, x)
        assert w.shape == (784, 10)
        assert np.allclose(x @ w + b, net.scores(x), rtol=0, atol=1e-10)
    one = Network([Layer(rng.randn(784, 10))])
    assert np.array_equal(effective_weights(one, x)[0], one.layers[0].weights)


def decoded(png: bytes) -> np.ndarray:
    import io

    img = Image.open(io.BytesIO(png))
    img.load()
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB")).astype(int)


def test_explain_draws_input_weights_and_products(tmp_path, synthetic_weights):
    result = run_cli("predict", str(synthetic_weights), "--image", "one.png", "--explain",
                     "why.png", "--json", cwd=_drawn(tmp_path, 1))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["written"] == ["why.png"]
    pixels = decoded((tmp_path / "why.png").read_bytes())
    h, w, _ = pixels.shape
    assert w >= 800 and h >= 800
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((r > 150) & (b < 100)).sum() > 500  # red: positive weights and products
    assert ((b > 150) & (r < 100)).sum() > 500  # blue: negative ones
    assert ((r < 60) & (g < 60) & (b < 60)).sum() > 500  # the input's ink, and text


def _drawn(folder, digit):
    draw(digit).save(folder / f"{['zero', 'one'][digit]}.png")
    return folder


def test_explain_png_for_the_report_any_depth_and_class_names():
    rng = np.random.RandomState(4)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
    x = np.clip(rng.rand(784) - 0.6, 0, 1)
    for net, top in ((relu_network(rng), 2), (Network([Layer(rng.randn(784, 10))]), 3)):
        pixels = decoded(explain_png(net, x, names, top=top))
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not blank


def test_explain_refuses_tanh_hidden_layers(tmp_path):
    net = relu_network(np.random.RandomState(5), hidden="tanh")
    weights_file.save(tmp_path / "tanh.npz", WeightsFile(net, {"config": {}}))
    _drawn(tmp_path, 0)
    result = run_cli("predict", "tanh.npz", "--image", "zero.png", "--explain", "why.png",
                     cwd=tmp_path)  # fmt: skip
    assert_one_line_error(result, 2, "tanh hidden units", "linear or relu hidden layers only")
    assert not (tmp_path / "why.png").exists()
    # without --explain a tanh network predicts as usual
    ok = run_cli("predict", "tanh.npz", "--image", "zero.png", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "out").mkdir()
    folder = run_cli("predict", "tanh.npz", "--image", "zero.png", "--show-input", "out",
                     cwd=tmp_path)  # fmt: skip
    assert_one_line_error(folder, 2, "--show-input out is a folder")


# --- real MNIST ---------------------------------------------------------------------------------


def test_drawn_digits_are_recognised_by_a_network_trained_on_mnist(tmp_path, data_dir):
    """The book's network after 10 epochs (71% on the test set) reads clearly drawn digits,
    whatever their format, polarity, size and place."""
    assert run_cli("train", "--data-dir", str(data_dir), "--epochs", "10", "--quiet",
                   cwd=tmp_path).returncode == 0  # fmt: skip
    cases = {
        0: ("zero.png", draw(0), VARIANTS["dark-on-light.png"][0]),
        1: ("one.jpg", draw(1, size=(640, 480), at=(60, 200), scale=1.2), VARIANTS["photo.jpg"][0]),
        3: ("three.png", draw(3, at=(40, 30)), VARIANTS["light-on-dark.png"][0]),
        6: ("six.png", draw(6, scale=0.5, at=(300, 150), width=30), VARIANTS["deep.png"][0]),
        7: ("seven.png", draw(7, size=(300, 400), at=(100, 100)), VARIANTS["transparent.png"][0]),
    }  # fmt: skip
    for digit, (name, img, save) in cases.items():
        save(img, tmp_path / name)
        out = run_cli("predict", "--image", name, "--json", "--quiet", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["predicted"] == digit, (name, out.stdout)
    # a thin pen (3 pixels on a digit 200 tall): unthickened, this network read 1 of these 5
    for digit in (0, 1, 3, 6, 7):
        draw(digit, size=(300, 300), at=(40, 40), scale=200 / 210, width=3).save(tmp_path / "t.png")
        out = run_cli("predict", "--image", "t.png", "--json", "--quiet", cwd=tmp_path)
        assert json.loads(out.stdout)["predicted"] == digit, (digit, out.stdout)
    why = run_cli("predict", "--image", "seven.png", "--explain", "why.png", cwd=tmp_path)
    assert why.returncode == 0 and "predicted: 7" in why.stdout
    assert decoded((tmp_path / "why.png").read_bytes()).shape[0] >= 800
