"""Compares a PeakLabel COCO export with the original COCO file, in pycocotools.

usage: coco_check.py ORIGINAL.json EXPORT.json
Prints one JSON line: annotations compared, whether every mask is pixel-equal, the lowest IoU, and the
segm AP of the export (as detections, score 1) evaluated against the original with COCOeval.
Images are matched by file name and categories by name: the export renumbers ids from 1.
"""
import contextlib
import io
import json
import os
import sys

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def load(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(path)


def main(gt_path, ex_path):
    gt, ex = load(gt_path), load(ex_path)
    gt_img = {os.path.basename(im['file_name']): im['id'] for im in gt.dataset['images']}
    gt_cat = {c['name']: c['id'] for c in gt.dataset['categories']}
    ex_cat = {c['id']: c['name'] for c in ex.dataset['categories']}
    n, equal, min_iou, mismatched_counts = 0, True, 1.0, []
    results = []
    for im in ex.dataset['images']:
        gid = gt_img[os.path.basename(im['file_name'])]
        g = sorted(gt.loadAnns(gt.getAnnIds(imgIds=gid)), key=lambda a: a['id'])
        e = ex.loadAnns(ex.getAnnIds(imgIds=im['id']))
        if len(g) != len(e):
            mismatched_counts.append(im['file_name'])
            continue
        for a, b in zip(g, e):
            if gt_cat[ex_cat[b['category_id']]] != a['category_id']:
                equal = False
            ma, mb = gt.annToMask(a), ex.annToMask(b)
            union = int((ma | mb).sum())
            iou = float((ma & mb).sum()) / union if union else 1.0
            min_iou = min(min_iou, iou)
            equal = equal and bool((ma == mb).all())
            n += 1
            results.append({'image_id': gid, 'category_id': gt_cat[ex_cat[b['category_id']]],
                            'segmentation': ex.annToRLE(b), 'score': 1.0})
    evaluated = set(r['image_id'] for r in results)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, 'segm')
        ev.params.imgIds = sorted(evaluated)
        ev.params.maxDets = [1, 10, 100]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    print(json.dumps({'annotations': n, 'equal': equal, 'minIou': min_iou, 'ap': float(ev.stats[0]),
                      'images': len(ex.dataset['images']), 'countMismatch': mismatched_counts}))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
