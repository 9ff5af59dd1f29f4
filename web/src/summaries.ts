/**
 * One-line summaries as the command line prints them: the built-in families by `client/summary.ts`, the
 * server's own families by their catalogue's templates (read once from the `catalogue` query).
 */
import { useQuery } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import { summariesFrom, type AnyEnvelope, type StreamItem } from '@switchboard/shared';
import { summarizeEvent } from '../../client/summary.js';
import { useTRPC } from './trpc.js';

export type Summarize = (event: StreamItem | AnyEnvelope) => string;

export function useSummarize(): Summarize {
  const trpc = useTRPC();
  const catalogue = useQuery(trpc.catalogue.queryOptions(undefined, { staleTime: Infinity }));
  const custom = useMemo(() => summariesFrom(catalogue.data ?? []), [catalogue.data]);
  return useCallback((event) => summarizeEvent(event, undefined, custom), [custom]);
}
