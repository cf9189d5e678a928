import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitCsvLine } from '../../src/main/tags/import-tags';
import { testOutput } from '../helpers/shared';
import { projectWithImages } from '../helpers/project';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('main', 'tags');
const images = join(root, 'classes');

beforeAll(async () => {
  rmSync(root, { recursive: true, force: true });
  const files: [string, number][] = [['cat/c1.jpg', 10], ['cat/deep/c2.jpg', 20], ['dog/d1.jpg', 30], ['loose.jpg', 40]];
  for (const [f, shade] of files) {
    mkdirSync(join(images, f, '..'), { recursive: true });
    await sharp({ create: { width: 16, height: 12, channels: 3, background: { r: shade, g: 90, b: 140 } } }).jpeg().toFile(join(images, f));
  }
});

const project = (name: string) => projectWithImages(join(root, `${name}.peaklabel`), images);

describe('image-level tags', () => {
  it('splits CSV lines with quotes', () => {
    expect(splitCsvLine('a.jpg,cat;dog')).toEqual(['a.jpg', 'cat;dog']);
    expect(splitCsvLine('"my, file.jpg","cat"')).toEqual(['my, file.jpg', 'cat']);
    expect(splitCsvLine('"say ""hi"".jpg",x')).toEqual(['say "hi".jpg', 'x']);
  });

  it('edits tags per image', async () => {
    const { ctx, api, ids } = await project('edit');
    await api.setTags([ids['c1.jpg'], ids['d1.jpg']], ['animal', 'cute'], []);
    await api.setTags([ids['d1.jpg']], ['dog'], ['cute']);
    expect((await api.getImage(ids['c1.jpg'])).tags).toEqual(['animal', 'cute']);
    expect((await api.getImage(ids['d1.jpg'])).tags).toEqual(['animal', 'dog']);
    ctx.close();
  });

  it('imports a CSV by file name or relative path and lists names it cannot match', async () => {
    const { ctx, api, ids } = await project('csv');
    const csv = join(root, 'tags.csv');
    writeFileSync(csv, 'file,tags\nc1.jpg,cat;fluffy\ncat/deep/c2.jpg,cat\n\nnope.jpg,ghost\n');
    const r = await api.importTagsCsv(csv);
    expect(r).toEqual({ images: 2, tags: 3, unmatched: ['nope.jpg'] });
    expect((await api.getImage(ids['c1.jpg'])).tags).toEqual(['cat', 'fluffy']);
    expect((await api.getImage(ids['c2.jpg'])).tags).toEqual(['cat']);
    writeFileSync(csv, 'c1.jpg\n');
    await expect(api.importTagsCsv(csv)).rejects.toMatchObject({ code: 'CSV_INVALID' });
    ctx.close();
  });

  it('imports one-sub-folder-per-class layouts', async () => {
    const { ctx, api, ids } = await project('folders');
    const r = await api.importTagsFromFolders(images);
    expect(r).toMatchObject({ images: 3, tags: 3, unmatched: [] });
    expect((await api.getImage(ids['c2.jpg'])).tags).toEqual(['cat']);
    expect((await api.getImage(ids['d1.jpg'])).tags).toEqual(['dog']);
    expect((await api.getImage(ids['loose.jpg'])).tags).toEqual([]);
    expect((await api.listImages({ offset: 0, limit: 10, tag: 'cat' })).total).toBe(2);
    ctx.close();
  });

  it('imports the categories present in each image of a COCO file', async () => {
    const { ctx, api, ids } = await project('coco');
    const poly = [[1, 1, 8, 1, 8, 8, 1, 8]];
    const coco = {
      images: [{ id: 1, file_name: 'c1.jpg', width: 16, height: 12 }, { id: 2, file_name: 'd1.jpg', width: 16, height: 12 }, { id: 3, file_name: 'missing.jpg', width: 16, height: 12 }],
      categories: [{ id: 5, name: 'cat' }, { id: 7, name: 'dog' }, { id: 9, name: 'ball' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 5, segmentation: poly, area: 49, bbox: [1, 1, 7, 7], iscrowd: 0 },
        { id: 2, image_id: 2, category_id: 7, segmentation: poly, area: 49, bbox: [1, 1, 7, 7], iscrowd: 0 },
        { id: 3, image_id: 2, category_id: 9, segmentation: poly, area: 49, bbox: [1, 1, 7, 7], iscrowd: 0 },
      ],
    };
    const file = join(root, 'tags-coco.json');
    writeFileSync(file, JSON.stringify(coco));
    const r = await api.importTagsFromCoco(file);
    expect(r.unmatched).toEqual(['missing.jpg']);
    expect((await api.getImage(ids['c1.jpg'])).tags).toEqual(['cat']);
    expect((await api.getImage(ids['d1.jpg'])).tags).toEqual(['ball', 'dog']);
    ctx.close();
  });
});
