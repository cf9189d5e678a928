"""pycocotools reference values for the TypeScript RLE/polygon code (called from vitest, one call per data set).

  coco_reference.py dataset INSTANCES.json  -> [{id, rle, canon, area, bbox}] per annotation, where
      rle   = pycocotools' annToRLE counts (polygons: merge(frPyObjects); list counts: frPyObjects; strings: as given)
      canon = encode(asfortranarray(decode(rle)))['counts'], i.e. the canonical string of the decoded mask
  coco_reference.py cases CASES.json        -> {polys: [rle counts of merge(frPyObjects(polys, h, w))],
                                                masks: [encode(asfortranarray(mask))['counts']],
                                                ious: [iou([mask i], [mask j], [crowd]) per pair]}
      CASES.json = {polys: [{h, w, polys}], masks: [{h, w, data: base64 row-major bytes}], pairs?: [[i, j, crowd]]}
Prints JSON on stdout.
"""
import base64
import json
import sys

import numpy as np
from pycocotools import mask as mask_utils


def ann_to_rle(seg, h, w):
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg['counts'], list):
        return mask_utils.frPyObjects(seg, *seg['size'])
    return {'size': seg['size'], 'counts': seg['counts'].encode('ascii')}


def dataset(path):
    d = json.load(open(path))
    images = {im['id']: im for im in d['images']}
    out = []
    for a in d['annotations']:
        im = images[a['image_id']]
        rle = ann_to_rle(a['segmentation'], im['height'], im['width'])
        m = mask_utils.decode(rle)
        canon = mask_utils.encode(np.asfortranarray(m))
        out.append({
            'id': a['id'],
            'rle': rle['counts'].decode('ascii'),
            'canon': canon['counts'].decode('ascii'),
            'area': int(mask_utils.area(rle)),
            'bbox': [int(v) for v in mask_utils.toBbox(rle)],
        })
    return out


def cases(path):
    c = json.load(open(path))
    polys = [mask_utils.merge(mask_utils.frPyObjects(p['polys'], p['h'], p['w']))['counts'].decode('ascii')
             for p in c['polys']]
    masks = []
    for m in c['masks']:
        arr = np.frombuffer(base64.b64decode(m['data']), dtype=np.uint8).reshape(m['h'], m['w'])
        masks.append(mask_utils.encode(np.asfortranarray(arr))['counts'].decode('ascii'))
    # iou(dt=[mask i], gt=[mask j], iscrowd=[crowd]) for each requested pair of same-size masks.
    encoded = [{'size': [m['h'], m['w']], 'counts': c.encode('ascii')} for m, c in zip(c['masks'], masks)]
    ious = [float(mask_utils.iou([encoded[i]], [encoded[j]], [int(crowd)])[0][0]) for i, j, crowd in c.get('pairs', [])]
    return {'polys': polys, 'masks': masks, 'ious': ious}


if __name__ == '__main__':
    mode, path = sys.argv[1], sys.argv[2]
    json.dump(dataset(path) if mode == 'dataset' else cases(path), sys.stdout)
