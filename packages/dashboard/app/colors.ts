/**
 * Series colours: the total first, then one per node (cycling).
 * @module
 */

/** The total's colour. */
export const TOTAL_COLOR = '#f8fafc';

const NODE_COLORS = ['#38bdf8', '#f472b6', '#a3e635', '#fbbf24', '#c084fc', '#2dd4bf', '#fb7185', '#94a3b8'];

/** The colour of the n-th node. */
export function nodeColor(index: number): string {
  return NODE_COLORS[index % NODE_COLORS.length] as string;
}
