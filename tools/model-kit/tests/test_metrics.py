"""The kit's held-out metrics on hand-made cases: classification AP and the paper's pointwise mAP."""
import numpy as np

from peaklabel_kit.train import average_precision, pointwise_map


def test_average_precision_of_a_ranking_with_one_negative_between_positives():
    # ranking: pos, neg, pos -> precisions 1 and 2/3 at the positives
    assert abs(average_precision(np.array([0.9, 0.5, 0.1]), np.array([1, 0, 1])) - (1 + 2 / 3) / 2) < 1e-9


def test_pointwise_map_counts_a_mislocalised_positive_as_a_false_positive_that_is_never_recalled():
    scores = np.array([[0.9], [0.8], [0.7], [0.1]])
    labels = np.array([[1], [1], [0], [1]])
    # the 2nd-ranked positive's argmax is off its boxes: precisions at the true positives 1/1 and 2/4; 3 positives
    located = np.array([[True], [False], [False], [True]])
    assert abs(pointwise_map(scores, labels, located) - (1 + 0.5) / 3) < 1e-9
    # located everywhere, it is the classification AP
    assert abs(pointwise_map(scores, labels, np.ones_like(located))
               - average_precision(scores[:, 0], labels[:, 0])) < 1e-9


def test_pointwise_map_ignores_a_hit_flag_on_an_image_without_the_class_and_averages_over_present_classes():
    scores = np.array([[0.9, 0.2], [0.3, 0.8]])
    labels = np.array([[1, 0], [0, 0]])  # class 1 has no positive: not in the mean
    located = np.array([[True, True], [True, True]])
    assert pointwise_map(scores, labels, located) == 1.0
