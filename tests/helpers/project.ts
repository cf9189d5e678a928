import { ServiceContext } from '../../src/main/api/context';
import { createService } from '../../src/main/api/service';

/** A new project at `path` through the real service, with the image folder added; ids by file name. */
export async function projectWithImages(path: string, images: string) {
  const ctx = new ServiceContext();
  const api = createService(ctx);
  await api.createProject(path);
  await api.addImageFolder(images);
  const ids = Object.fromEntries((await api.listImages({ offset: 0, limit: 100 })).items.map((i) => [i.fileName, i.id]));
  return { ctx, api, ids };
}
