// What the editor canvas shows (CVAT's canvasModel): the image and its overlays, the instances and peaks,
// the selection, the tool and the view. Plain data: the controller changes it, the view reads it to draw.
import type { ImageRect } from '../../../common/api';
import type { BinaryMask } from '../../../common/mask';
import type { View } from './view';

export type Tool = 'select' | 'brush' | 'eraser' | 'polygon';

export interface EngineInstance {
  id: number;
  color: string;
  source: string;
  score: number | null;
  /** The mask cropped to (at least) its bounding box; its pixel (0, 0) is image pixel (x, y). */
  mask: BinaryMask;
  x: number;
  y: number;
}

export interface EnginePeak {
  x: number;
  y: number;
  score: number;
  color: string;
  /** Peak already turned into an instance (drawn hollow). */
  used?: boolean;
}

export interface Layers {
  heatmap: boolean;
  /** The selected instance's peak activation (PRM or IAM). */
  activation: boolean;
  /** Outline of the segment proposal under the cursor. */
  proposals: boolean;
  peaks: boolean;
  suggested: boolean;
  accepted: boolean;
}

/** What a freshly opened editor shows: peaks and both kinds of mask; the model's maps on request. */
export const DEFAULT_LAYERS: Readonly<Layers> = { heatmap: false, activation: false, proposals: false, peaks: true, suggested: true, accepted: true };

export class CanvasModel {
  view: View = { scale: 1, tx: 0, ty: 0 };
  tool: Tool = 'select';
  brushRadius = 12;
  layers: Layers = { ...DEFAULT_LAYERS };
  /** Colour of tool previews: the selected (or active) class. */
  strokeColor = '#ffcc00';
  /** Canvas size in CSS pixels. */
  cssW = 1;
  cssH = 1;
  /** The image as drawn (possibly a downscaled level) and its full size, which every coordinate refers to. */
  image: CanvasImageSource | null = null;
  imageW = 0;
  imageH = 0;
  heat: CanvasImageSource | null = null;
  /** Where the heat map lies on the image (image pixels); null: over the whole image. */
  heatFrame: ImageRect | null = null;
  activation: CanvasImageSource | null = null;
  /** Outline (rings in image pixels) of the proposal under the cursor. */
  proposalRings: number[][] | null = null;
  instances: EngineInstance[] = [];
  peaks: EnginePeak[] = [];
  selectedId: number | null = null;
  /** Others picked with Shift (for merging). */
  alsoSelected = new Set<number>();
  /** The pointer in screen pixels while it is over the canvas. */
  pointer: { x: number; y: number } | null = null;
}
