import { useEffect, useLayoutEffect, useRef, useState } from 'react';

/**
 * Virtual scrolling for rows of one height: only the rows in view (and `overscan` around them) are rendered.
 * Rows added above keep the view still for a reader who has scrolled down.
 */
export function useVirtualRows(rows: readonly { id: string }[], rowHeight: number, overscan: number) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(400);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      setViewHeight(el.clientHeight);
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
    };
  }, []);
  const firstId = useRef<string | undefined>(undefined);
  useLayoutEffect(() => {
    const el = scroller.current;
    const previous = firstId.current;
    firstId.current = rows[0]?.id;
    if (!el || previous === undefined || el.scrollTop === 0) return;
    const added = rows.findIndex((r) => r.id === previous);
    if (added > 0) el.scrollTop += added * rowHeight;
  }, [rows, rowHeight]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  return {
    scroller,
    first,
    last,
    /** Within `overscan` rows of the end of what is held. */
    nearEnd: last >= rows.length - overscan,
    onScroll: (e: { currentTarget: HTMLElement }) => {
      setScrollTop(e.currentTarget.scrollTop);
    },
  };
}
