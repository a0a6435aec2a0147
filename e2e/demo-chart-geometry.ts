/**
 * What the demo page's live chart looks like on screen, read in the page (issue 17): the size
 * each label is drawn at, the boxes of the state nodes and of the edge labels, the node titles,
 * and which node is highlighted next to what the status badge says.
 */
import type { Page } from 'playwright-core';

/** Smallest label, in CSS px on screen, that reads at arm's length on a laptop. */
export const LEGIBLE_LABEL_PX = 11;

export interface Box {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

export interface ChartGeometry {
  /** Drawn width / the SVG's own width (1 at full size). */
  readonly scale: number;
  /** Every non-empty label: its text and font size on screen (computed size × scale). */
  readonly labels: readonly { readonly text: string; readonly px: number }[];
  /** Every state node (pseudo-states included): Mermaid id, title (first label line), shape box. */
  readonly nodes: readonly { readonly id: string; readonly title: string; readonly box: Box }[];
  readonly edgeLabels: readonly { readonly text: string; readonly box: Box }[];
  /** The #chart element's visible box and the window's. */
  readonly chartBox: Box;
  readonly viewport: { readonly width: number; readonly height: number };
}

export async function chartGeometry(page: Page): Promise<ChartGeometry> {
  // No named functions inside: the test's transform wraps them in a `__name` helper the page lacks.
  return page.evaluate(() => {
    const svg = document.querySelector<SVGSVGElement>('#chart svg');
    if (!svg) throw new Error('no chart');
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const labels = Array.from(svg.querySelectorAll<HTMLElement>('.nodeLabel, .edgeLabel p, .edgeLabel span:not(:has(p)), text'))
      .filter((el) => (el.textContent ?? '').trim() !== '')
      .map((el) => ({ text: (el.textContent ?? '').trim(), px: parseFloat(getComputedStyle(el).fontSize) * scale }));
    const nodes = Array.from(svg.querySelectorAll<SVGGElement>('g.node')).map((g) => {
      const id = /-state-(.+)-\d+$/.exec(g.id)?.[1] ?? g.id;
      // The drawn shape: a plain state's rect, a titled state's outer rect, a pseudo-state's circle.
      const shape = g.querySelector('rect.label-container, rect.outer, circle') ?? g;
      return { id, title: (g.querySelector('.nodeLabel')?.textContent ?? '').trim(), box: shape.getBoundingClientRect().toJSON() as Box };
    });
    const edgeLabels = Array.from(svg.querySelectorAll<HTMLElement>('g.edgeLabel .label'))
      .filter((el) => (el.textContent ?? '').trim() !== '')
      .map((el) => ({ text: (el.textContent ?? '').trim(), box: el.getBoundingClientRect().toJSON() as Box }));
    const chart = document.getElementById('chart');
    if (!chart) throw new Error('no #chart');
    return { scale, labels, nodes, edgeLabels, chartBox: chart.getBoundingClientRect().toJSON() as Box, viewport: { width: innerWidth, height: innerHeight } };
  });
}

/** Pairs whose boxes overlap by more than `slackPx` both ways (touching is not overlapping). */
export function overlaps<T extends { readonly box: Box }>(items: readonly T[], slackPx = 0.5): [T, T][] {
  const out: [T, T][] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = (items[i] as T).box;
      const b = (items[j] as T).box;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > slackPx && h > slackPx) out.push([items[i] as T, items[j] as T]);
    }
  }
  return out;
}

export function isInside(inner: Box, outer: Box): boolean {
  return inner.left >= outer.left && inner.top >= outer.top && inner.right <= outer.right && inner.bottom <= outer.bottom;
}

/** The state the badge shows and the state the chart highlights, read in one task of the page. */
export async function badgeAndHighlight(page: Page): Promise<{ badge: string; highlighted: string[] }> {
  return page.evaluate(() => ({
    badge: document.getElementById('state')?.dataset.state ?? '',
    highlighted: Array.from(document.querySelectorAll('#chart svg g.node.current')).map((g) => /-state-(.+)-\d+$/.exec(g.id)?.[1] ?? g.id),
  }));
}

/**
 * Watch every change of the badge from inside the page: a MutationObserver callback runs at the
 * end of the task that changed the badge, so what it reads from the chart is what the same task
 * left there. Read the records with `badgeRecords`.
 */
export async function watchBadge(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { badgeRecords: { badge: string; highlighted: string[] }[] };
    w.badgeRecords = [];
    const badge = document.getElementById('state');
    if (!badge) throw new Error('no #state');
    new MutationObserver(() => {
      w.badgeRecords.push({
        badge: badge.dataset.state ?? '',
        highlighted: Array.from(document.querySelectorAll('#chart svg g.node.current')).map((g) => /-state-(.+)-\d+$/.exec(g.id)?.[1] ?? g.id),
      });
    }).observe(badge, { attributes: true, attributeFilter: ['data-state'] });
  });
}

export async function badgeRecords(page: Page): Promise<{ badge: string; highlighted: string[] }[]> {
  return page.evaluate(() => (window as unknown as { badgeRecords: { badge: string; highlighted: string[] }[] }).badgeRecords);
}
