// Finds the project image a name in a COCO file or tag CSV refers to: an absolute path, a relative
// path that ends a project path ("sub/x.jpg"), or a bare file name when it is unique in the project.
import { basename, isAbsolute, sep } from 'node:path';
import type { ProjectStore } from './project-store';

export type ImageMatcher = (name: string) => number | undefined;

export function createImageMatcher(store: ProjectStore): ImageMatcher {
  const byPath = store.imageIdsByPath();
  const byBase = new Map<string, { id: number; path: string } | null>(); // null: several images share the name
  for (const [path, id] of byPath) {
    const b = basename(path);
    byBase.set(b, byBase.has(b) ? null : { id, path });
  }
  return (name: string) => {
    const n = name.replace(/\\/g, '/').replace(/^\.\//, '');
    if (isAbsolute(name)) return byPath.get(name);
    const parts = n.split('/');
    const base = parts[parts.length - 1];
    const unique = byBase.get(base);
    if (parts.length === 1) return unique?.id;
    const suffix = sep + parts.join(sep);
    // One candidate: accept it when its path ends with the given relative path.
    if (unique) return unique.path.endsWith(suffix) ? unique.id : undefined;
    if (unique === undefined) return undefined;
    for (const [path, id] of byPath) if (path.endsWith(suffix)) return id;
    return undefined;
  };
}
