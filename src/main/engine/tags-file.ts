// Image-level tags for one-shot runs (`prelabel --images DIR --tags FILE`): a CSV of `file,tag;tag` lines
// or a COCO instances file (an image's tags = the categories of its annotations). Tags resolve to model
// classes through the manifest's names and aliases; unknown tags are reported, not fatal.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { PeakLabelError } from '../../common/errors';
import { classIndexOf } from './bundle';
import type { Manifest } from './manifest';

export interface TagsByFile {
  /** Basename → tag names. Images missing here run untagged (the model's class scores decide). */
  tags: Map<string, string[]>;
  source: 'csv' | 'coco';
}

export function readTagsFile(file: string): TagsByFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PeakLabelError('UNREADABLE', `The tags file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, { file });
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) return { tags: cocoTags(trimmed, file), source: 'coco' };
  return { tags: csvTags(text, file), source: 'csv' };
}

function cocoTags(text: string, file: string): Map<string, string[]> {
  let json: { images?: { id: number; file_name: string }[]; annotations?: { image_id: number; category_id: number }[]; categories?: { id: number; name: string }[] };
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PeakLabelError('COCO_INVALID', `The tags file ${file} is not valid JSON (${(err as Error).message}).`, { file });
  }
  if (!Array.isArray(json.images) || !Array.isArray(json.categories)) {
    throw new PeakLabelError('COCO_INVALID', `The tags file ${file} is not a COCO file: it lacks "images" or "categories".`, { file });
  }
  const catName = new Map(json.categories.map((c) => [c.id, c.name]));
  const byImage = new Map<number, Set<string>>(json.images.map((im) => [im.id, new Set<string>()]));
  for (const a of json.annotations ?? []) {
    const name = catName.get(a.category_id);
    if (name) byImage.get(a.image_id)?.add(name);
  }
  return new Map(json.images.map((im) => [basename(im.file_name), [...(byImage.get(im.id) ?? [])]]));
}

function csvTags(text: string, file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const comma = line.indexOf(',');
    if (comma < 0) throw new PeakLabelError('CSV_INVALID', `The tags file ${file} line ${i + 1} has no comma: expected "file,tag;tag".`, { file });
    const name = unquote(line.slice(0, comma));
    if (i === 0 && /^(file|filename|file_name|image)$/i.test(name)) return; // header
    const tags = unquote(line.slice(comma + 1)).split(/[;|]/).map((t) => t.trim()).filter(Boolean);
    out.set(basename(name), tags);
  });
  return out;
}

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t;
}

/** Tag names → model class indices; unknown names are collected so callers can report them once. */
export function resolveTags(manifest: Manifest, tags: string[], unknown?: Set<string>): number[] {
  const out = new Set<number>();
  for (const t of tags) {
    const c = classIndexOf(manifest, t);
    if (c >= 0) out.add(c);
    else unknown?.add(t);
  }
  return [...out];
}
