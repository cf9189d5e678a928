// Colours for class overlays: bright, distinct hues that show over a photograph (Tableau 10, then d3's
// category 10). The model bundle's VOC colour map (#000080, #400000, …) is the convention for label PNGs;
// filled at the canvas's translucency over a photo, its dark entries all but vanish.
export const CLASS_PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The n-th class's colour (0-based), repeating after the palette's 20. */
export function paletteColor(n: number): string {
  return CLASS_PALETTE[n % CLASS_PALETTE.length];
}
