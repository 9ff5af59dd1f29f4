/**
 * What a person would see as broken at a given window width, measured in the page: a horizontal scrollbar,
 * content that escapes or is clipped at a panel's edge, a panel without visible content, and text cut short
 * with no way to read it whole (a `title` on it or around it).
 */
import type { Page } from 'playwright-core';

export interface PanelLayout {
  panel: string;
  width: number;
  height: number;
  /** Items (cards, lanes, rows) in the DOM, and how many of them lie wholly inside the panel. */
  items: number;
  visibleItems: number;
  /** Elements that stick out of the panel sideways, or scroll sideways inside it. */
  overflowing: string[];
  /** Elements whose text is cut with an ellipsis and has no `title` to read it whole. */
  untitled: string[];
}

export interface PageLayout {
  scrollWidth: number;
  clientWidth: number;
  panels: PanelLayout[];
}

/** Each panel of the dashboard and what counts as one item of its content. */
export const panelItems = {
  agents: '[data-agent]',
  workflows: '[data-workflow]',
  tdd: '[data-task]',
  log: '[data-event-id]',
  activity: '[data-testid="activity-chart"]',
} as const;

export function measureLayout(page: Page): Promise<PageLayout> {
  return page.evaluate((panels) => {
    const describe = (el: Element) => {
      const classes =
        typeof el.className === 'string' && el.className !== '' ? `.${el.className.replaceAll(' ', '.')}` : '';
      return `${el.tagName.toLowerCase()}${classes} "${el.textContent.slice(0, 40)}"`;
    };
    const result = [];
    for (const [name, itemSelector] of Object.entries(panels)) {
      const panel = document.querySelector(`section.panel.${name}`);
      if (!panel) throw new Error(`no ${name} panel on the page`);
      const box = panel.getBoundingClientRect();
      const overflowing: string[] = [];
      const untitled: string[] = [];
      if (panel.scrollWidth > panel.clientWidth + 1) overflowing.push(`the panel (${panel.scrollWidth}px wide)`);
      for (const el of panel.querySelectorAll('*')) {
        const style = getComputedStyle(el);
        const rect = el.getBoundingClientRect();
        const truncated = el.scrollWidth > el.clientWidth + 1;
        // Cut short on purpose (an ellipsis): fine when the whole text is one hover away.
        if (style.textOverflow === 'ellipsis' && truncated && !el.closest('[title]')) untitled.push(describe(el));
        if ((style.overflowX === 'auto' || style.overflowX === 'scroll') && truncated)
          overflowing.push(`${describe(el)} scrolls sideways (${el.scrollWidth} > ${el.clientWidth})`);
        const insideEllipsis = el.parentElement
          ? getComputedStyle(el.parentElement).textOverflow === 'ellipsis'
          : false;
        if (rect.width > 0 && !insideEllipsis && (rect.right > box.right + 1 || rect.left < box.left - 1))
          overflowing.push(`${describe(el)} reaches ${Math.round(rect.left)}..${Math.round(rect.right)}`);
      }
      const items = [...panel.querySelectorAll(itemSelector)];
      const visibleItems = items.filter((item) => {
        const rect = item.getBoundingClientRect();
        return (
          rect.width > 0 &&
          rect.height > 0 &&
          rect.left >= box.left - 1 &&
          rect.right <= box.right + 1 &&
          rect.top >= box.top - 1 &&
          rect.bottom <= box.bottom + 1
        );
      }).length;
      result.push({
        panel: name,
        width: box.width,
        height: box.height,
        items: items.length,
        visibleItems,
        overflowing,
        untitled,
      });
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      panels: result,
    };
  }, panelItems);
}
