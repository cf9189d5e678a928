// Ordering rules of the review loop, kept out of components so they can be tested.

export interface Reviewable {
  id: number;
  source: string;
  score: number | null;
}

/** Pending suggestions, highest score first (ties: lower id first, i.e. older). */
export function suggestionOrder<T extends Reviewable>(instances: readonly T[]): T[] {
  return instances
    .filter((i) => i.source === 'suggested')
    .sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity) || a.id - b.id);
}

/** The suggestion after `currentId` in score order (wrapping), or the best one when none is current. */
export function nextSuggestion<T extends Reviewable>(instances: readonly T[], currentId: number | null): T | null {
  const order = suggestionOrder(instances);
  if (order.length === 0) return null;
  const i = order.findIndex((s) => s.id === currentId);
  return order[(i + 1) % order.length];
}

/** Ids of the suggestions whose score is at least `threshold`. */
export function suggestionsAbove<T extends Reviewable>(instances: readonly T[], threshold: number): number[] {
  return suggestionOrder(instances).filter((s) => (s.score ?? -Infinity) >= threshold).map((s) => s.id);
}

/** Ids of the suggestions whose score is under `threshold`: the rest once those above are accepted. */
export function suggestionsBelow<T extends Reviewable>(instances: readonly T[], threshold: number): number[] {
  return suggestionOrder(instances).filter((s) => (s.score ?? -Infinity) < threshold).map((s) => s.id);
}
