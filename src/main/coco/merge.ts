// Joins COCO files made separately (the shards of `prelabel --shard I/N`) into one: images are matched by
// file name and sorted by it, image and annotation ids are renumbered, and each image's annotations keep
// their order. Files from different models (other categories) and an image in two files are refused with
// a sentence naming the files, since either means the parts do not belong together.
import { PeakLabelError } from '../../common/errors';
import type { CocoAnnotation, CocoDataset, CocoImage } from '../../common/coco/types';

export interface CocoPart {
  file: string;
  dataset: CocoDataset;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function categoriesKey(d: CocoDataset): string {
  return JSON.stringify([...d.categories].sort((a, b) => a.id - b.id).map((c) => [c.id, c.name]));
}

function shardOf(part: CocoPart): { index: number; count: number } | null {
  const s = part.dataset.info?.shard as { index?: unknown; count?: unknown } | undefined;
  return s && Number.isInteger(s.index) && Number.isInteger(s.count) ? { index: s.index as number, count: s.count as number } : null;
}

/** When every part is a `--shard I/N` output, each shard 0…N-1 must be there exactly once. */
function checkShards(parts: CocoPart[]): void {
  const shards = parts.map(shardOf);
  if (shards.some((s) => s === null)) return;
  const count = shards[0]!.count;
  const other = parts.find((_, i) => shards[i]!.count !== count);
  if (other) throw new PeakLabelError('BAD_ARGUMENT', `${other.file} is shard ${shardOf(other)!.index}/${shardOf(other)!.count}, but ${parts[0].file} is one of ${count} shards: merge the outputs of one split.`, { file: other.file });
  const seen = new Map<number, string>();
  for (const [i, p] of parts.entries()) {
    const prev = seen.get(shards[i]!.index);
    if (prev) throw new PeakLabelError('BAD_ARGUMENT', `${p.file} and ${prev} are both shard ${shards[i]!.index}/${count}.`, { file: p.file });
    seen.set(shards[i]!.index, p.file);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new PeakLabelError('BAD_ARGUMENT', `Shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} ${missing.length > 1 ? 'are' : 'is'} missing (given: ${parts.map((p) => p.file).join(', ')}); a merge without ${missing.length > 1 ? 'them' : 'it'} would lack its images.`);
}

export function mergeCocoParts(parts: CocoPart[]): CocoDataset {
  if (!parts.length) throw new PeakLabelError('BAD_ARGUMENT', 'merge-coco needs at least one COCO file.');
  const first = parts[0];
  for (const p of parts.slice(1)) {
    if (categoriesKey(p.dataset) !== categoriesKey(first.dataset)) {
      throw new PeakLabelError('COCO_INVALID', `${p.file} has other categories than ${first.file}: only files made with the same model (same category ids and names) can be merged.`, { file: p.file });
    }
  }
  checkShards(parts);

  const owner = new Map<string, string>();
  const entries: { image: CocoImage; annotations: CocoAnnotation[] }[] = [];
  for (const p of parts) {
    const anns = new Map<number, CocoAnnotation[]>();
    for (const a of p.dataset.annotations) anns.set(a.image_id, [...(anns.get(a.image_id) ?? []), a]);
    for (const im of p.dataset.images) {
      const prev = owner.get(im.file_name);
      if (prev !== undefined) {
        const where = prev === p.file ? `twice in ${p.file}` : `in both ${prev} and ${p.file}`;
        throw new PeakLabelError('COCO_INVALID', `The image ${im.file_name} is ${where}: each image must come from one part.`, { file: p.file });
      }
      owner.set(im.file_name, p.file);
      entries.push({ image: im, annotations: anns.get(im.id) ?? [] });
    }
  }
  entries.sort((a, b) => byName(a.image.file_name, b.image.file_name));

  const images: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  entries.forEach(({ image, annotations: anns }, i) => {
    images.push({ ...image, id: i + 1 });
    for (const a of anns) annotations.push({ ...a, id: annotations.length + 1, image_id: i + 1 });
  });

  const infos = parts.map((p) => p.dataset.info ?? {});
  const same = (key: string) => (infos.every((x) => x[key] === infos[0][key]) ? infos[0][key] : undefined);
  const info: Record<string, unknown> = {
    description: `Merged from ${parts.length} COCO file${parts.length > 1 ? 's' : ''}`,
    model_id: same('model_id'),
    method: same('method'),
    date_created: new Date().toISOString(),
    complete: infos.every((x) => x.complete !== false),
    failed: infos.flatMap((x) => (Array.isArray(x.failed) ? x.failed : [])),
    merged_from: parts.map((p) => p.file),
  };
  return { info, licenses: first.dataset.licenses ?? [], images, annotations, categories: first.dataset.categories };
}
