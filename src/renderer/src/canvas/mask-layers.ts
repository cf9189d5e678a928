// Each instance's fill and outline, cached for drawing. A fill is opaque: its opacity (suggested,
// selected) is applied when drawing, so a change of selection does not re-rasterise it. Megapixel layers
// cost tens of ms to build, so after an edit only the changed box is repainted, a new layer shows its first
// strip at once and the rest in idle time, and outlines are traced after the fill has shown (step): no
// task holds the window for long.
import type { BinaryMask } from '../../../common/mask';
import type { EngineInstance } from './canvas-model';
import { hexToRgb } from './color';
import { changedBox, maskBox, maskRgba, type MaskBox } from './mask-bitmap';
import { outlineRings } from './placed-mask';

export interface MaskLayer {
  /**
   * The fill as horizontal strips of `stripRows` rows (the last may be shorter), top-down, covering the box;
   * fewer while a new layer is being painted. Strips, not one canvas: a megapixel canvas costs ~20 ms on
   * its first paint alone, a strip a few ms, so the work splits into tasks that keep the window responsive.
   */
  strips: HTMLCanvasElement[];
  stripRows: number;
  box: MaskBox; // the mask's tight box in image pixels
  mask: BinaryMask;
  /** Image position of the mask's pixel (0, 0). */
  x: number;
  y: number;
  /** The fill colour. */
  key: string;
  /** Outer outline in image pixels, stroked in screen space so it stays crisp at every zoom. */
  rings: number[][];
  /** The mask `rings` were traced from: an earlier one (or null) until the deferred trace catches up. */
  ringsOf: BinaryMask | null;
}

/** Pixels per layer strip (~2 MB of RGBA, a few ms to paint). */
const STRIP_PIXELS = 1 << 19;

export class MaskLayers {
  private cache = new Map<number, MaskLayer>();

  get(id: number): MaskLayer | undefined {
    return this.cache.get(id);
  }

  /** Drops the layers of instances no longer shown. */
  keepOnly(ids: Set<number>): void {
    for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
  }

  /** The instance's layer, built or updated for its current mask; null for an empty mask. */
  layerFor(inst: EngineInstance): MaskLayer | null {
    const key = inst.color;
    const old = this.cache.get(inst.id);
    if (old && old.mask === inst.mask && old.key === key) return old;
    const tight = maskBox(inst.mask);
    if (!tight) {
      this.cache.delete(inst.id);
      return null;
    }
    const box = { ...tight, x: tight.x + inst.x, y: tight.y + inst.y };
    const layer: MaskLayer = {
      strips: [], stripRows: Math.max(1, Math.floor(STRIP_PIXELS / box.w)),
      box, mask: inst.mask, x: inst.x, y: inst.y, key, rings: old?.rings ?? [], ringsOf: old?.ringsOf ?? null,
    };
    if (old && old.key === key && complete(old)) {
      // An edit: the old fill, moved onto new strips if the box changed, with only the changed pixels repainted.
      layer.strips = movedStrips(old, layer);
      const dirty = changedBox(old, layer, box);
      if (dirty) paintFill(layer, dirty);
    } else {
      paintNextStrip(layer);
    }
    this.cache.set(inst.id, layer);
    return layer;
  }

  /** Whether some layer still has strips to paint or an outline to trace. */
  get pending(): boolean {
    return [...this.cache.values()].some((l) => !complete(l) || l.ringsOf !== l.mask);
  }

  /** One step of deferred work: a strip of an unfinished fill first, else one outline. False when none is left. */
  step(): boolean {
    const layers = [...this.cache.values()];
    const unfilled = layers.find((l) => !complete(l));
    if (unfilled) {
      paintNextStrip(unfilled);
      return true;
    }
    const untraced = layers.find((l) => l.ringsOf !== l.mask);
    if (!untraced) return false;
    untraced.rings = outlineRings({ bits: untraced.mask, ox: untraced.x, oy: untraced.y });
    untraced.ringsOf = untraced.mask;
    return layers.some((l) => l !== untraced && l.ringsOf !== l.mask);
  }
}

function stripCanvas(w: number, h: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  return canvas;
}

const complete = (layer: MaskLayer): boolean => layer.strips.length * layer.stripRows >= layer.box.h;

/** Rows [y0, y1) of the box (relative to its top) that strip k covers. */
function stripSpan(layer: MaskLayer, k: number): [number, number] {
  return [k * layer.stripRows, Math.min(layer.box.h, (k + 1) * layer.stripRows)];
}

function paintNextStrip(layer: MaskLayer): void {
  const [y0, y1] = stripSpan(layer, layer.strips.length);
  layer.strips.push(stripCanvas(layer.box.w, y1 - y0));
  paintFill(layer, { x: layer.box.x, y: layer.box.y + y0, w: layer.box.w, h: y1 - y0 });
}

/** The old layer's strips for the new one: themselves when the box is the same, else copied onto new strips. */
function movedStrips(old: MaskLayer, layer: MaskLayer): HTMLCanvasElement[] {
  const a = old.box, b = layer.box;
  if (a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h) return old.strips;
  const strips: HTMLCanvasElement[] = [];
  for (let k = 0; k * layer.stripRows < b.h; k++) {
    const [y0, y1] = stripSpan(layer, k);
    const strip = stripCanvas(b.w, y1 - y0);
    const ctx = strip.getContext('2d')!;
    old.strips.forEach((from, j) => {
      const top = a.y + j * old.stripRows; // image row of the old strip's top
      if (top < b.y + y1 && top + from.height > b.y + y0) ctx.drawImage(from, a.x - b.x, top - (b.y + y0));
    });
    strips.push(strip);
  }
  return strips;
}

/** Paints the layer's mask inside `area` (image pixels) onto the strips it crosses, replacing what was there. */
function paintFill(layer: MaskLayer, area: MaskBox): void {
  const rgb = hexToRgb(layer.key);
  layer.strips.forEach((strip, k) => {
    const [s0, s1] = stripSpan(layer, k);
    const y0 = Math.max(area.y, layer.box.y + s0), y1 = Math.min(area.y + area.h, layer.box.y + s1);
    if (y0 >= y1) return;
    const rgba = maskRgba(layer.mask, { x: area.x - layer.x, y: y0 - layer.y, w: area.w, h: y1 - y0 }, rgb, 255);
    const pixels = new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, area.w, y1 - y0);
    strip.getContext('2d')!.putImageData(pixels, area.x - layer.box.x, y0 - (layer.box.y + s0));
  });
}
