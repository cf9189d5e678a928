"""The image head (peaklabel_kit/image_head.py): a logistic classifier on max-pooled features whose logit adds to
the peak-stimulation class score, its blend weight chosen by CV, its bias calibrated like the class head's."""
import numpy as np
import torch

from peaklabel_kit.data import DevImage
from peaklabel_kit.image_head import BLEND_GRID, choose_blend, fit_image_head, global_max, image_logits
from peaklabel_kit.train import _fit, evaluate_heldout, f1_thresholds, mean_average_precision

K, D = 20, 24


class Cache:
    """FeatureCache's interface over random maps [D,4,5]: class c present -> one cell of channel c is high."""

    def __init__(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.images, self.feats, self.sizes = [], {}, {}
        self.centre = 15.5
        for i in range(n):
            labels = np.zeros(K, np.float32)
            labels[[i % 3, 5 + i % 2]] = 1  # classes 0-2 and 5-6 occur
            im = DevImage("synthetic", f"{i}.png", 80, 64, labels, {c: [[0, 0, 80, 64]] for c in np.nonzero(labels)[0]})
            for flip in (False, True):
                f = torch.randn(D, 4, 5, generator=g) * 0.5
                for c in np.nonzero(labels)[0]:
                    f[c, int(torch.randint(0, 4, (1,), generator=g)), int(torch.randint(0, 5, (1,), generator=g))] += 3
                self.feats[(im.key, flip)] = f
            self.sizes[im.key] = (80, 64)
            self.images.append(im)

    def get(self, im, flip=False):
        return self.feats[(im.key, flip)]


def test_logits_are_weight_times_max_pooled_features_and_separate_the_classes():
    fc = Cache(60)
    w, b = fit_image_head(fc, fc.images)
    assert w.shape == (K, D) and b.shape == (K,)
    q = image_logits(fc, fc.images, w, b)
    im = fc.images[7]
    assert np.allclose(q[7], (w @ global_max(fc.get(im)) + b).numpy(), atol=1e-5)
    labels = np.stack([i.labels for i in fc.images])
    for c in (0, 1, 2, 5, 6):
        assert q[labels[:, c] > 0, c].min() > q[labels[:, c] == 0, c].max(), c
        assert int(w[c].argmax()) == c  # the class's own channel carries it
    assert (q[:, 10] < 0).all()  # a class that never occurs stays off


def test_blend_weight_is_chosen_by_cv_and_out_of_fold_logits_cover_every_image():
    fc = Cache(45)
    w0, b0 = torch.zeros(K, D), torch.zeros(K)

    def peak_head(fit):  # an uninformative class head: the image head must carry the score
        return w0, b0
    a, oof, cv = choose_blend(fc, fc.images, peak_head, mean_average_precision)
    assert a in BLEND_GRID and a > 0
    assert len(cv) == len(BLEND_GRID) and cv[BLEND_GRID.index(a)] == max(cv)
    assert oof.shape == (45, K) and np.abs(oof).sum(1).min() > 0


def test_f1_thresholds_put_each_class_threshold_under_its_best_positive_cut():
    s = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.3], [0.7, 0.05]], np.float32)
    y = np.array([[1, 0], [1, 0], [0, 0], [0, 0]], np.float32)
    t = f1_thresholds(s, y)
    assert np.isclose(t[0], 0.8 - 1e-3)  # {0.9, 0.8} positive: F1 1
    assert np.isclose(t[1], 0.3 + 0.1)  # no positives: above the highest score


def test_heldout_class_score_adds_the_image_logits():
    fc = Cache(30)
    hw, hb = _fit(fc, fc.images, torch.zeros(K, D), torch.zeros(K), lam=0.1, epochs=1, lr=0.01, seed=0)
    iw, ib = fit_image_head(fc, fc.images)
    plain = evaluate_heldout(fc, fc.images, hw, hb)
    both = evaluate_heldout(fc, fc.images, hw, hb, image_head=(iw, ib))
    assert both["pointwise"] == plain["pointwise"]  # the CRM (and its argmax) is the class head's
    assert both["mAP"] > plain["mAP"]


def test_kit_names_the_bundle_file_it_cannot_use(tmp_path, capsys):
    import json
    import kit
    assert kit.main(["image-head", "--bundle", str(tmp_path)]) == 2
    assert f"{tmp_path}/manifest.json: no bundle manifest" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("{not json")
    assert kit.main(["eval", "--bundle", str(tmp_path)]) == 2
    assert "manifest.json: not valid JSON" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text(json.dumps({"backbone": {"name": "squeezenet1.1"}, "head": {"file": "head.bin"}}))
    (tmp_path / "head.bin").write_bytes(b"\0" * 40)
    assert kit.main(["eval", "--bundle", str(tmp_path)]) == 2
    assert f"{tmp_path}/head.bin: expected" in capsys.readouterr().err
