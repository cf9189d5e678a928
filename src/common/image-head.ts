// The bundle's image head (docs/adr/backbone-efficientnet-lite.md decision 19): a linear classifier on the
// global max of the class head's input features, whose logit is added to each class score. Classifying from
// the whole image's strongest features and the map's peaks together beat either alone on the dev images.

/**
 * weight [C,D] · (max over the h·w cells of features [D,h·w], row-major) + bias [C]. Classes beyond the
 * head's rows get 0 (a project's own classes: their score is their peaks alone).
 */
export function imageHeadLogits(features: Float32Array, D: number, weight: Float32Array, bias: Float32Array, classes = bias.length): Float32Array {
  const cells = features.length / D;
  if (!Number.isInteger(cells) || cells < 1) throw new RangeError(`imageHeadLogits: ${features.length} feature values are not ${D} channels of whole maps`);
  if (weight.length !== bias.length * D) throw new RangeError(`imageHeadLogits: ${weight.length} weights for ${bias.length} classes of ${D} features`);
  const pooled = new Float32Array(D);
  for (let d = 0; d < D; d++) {
    let m = -Infinity;
    const row = features.subarray(d * cells, (d + 1) * cells);
    for (let i = 0; i < cells; i++) if (row[i] > m) m = row[i];
    pooled[d] = m;
  }
  const out = new Float32Array(classes);
  for (let c = 0; c < Math.min(classes, bias.length); c++) {
    let s = bias[c];
    for (let d = 0; d < D; d++) s += weight[c * D + d] * pooled[d];
    out[c] = s;
  }
  return out;
}
