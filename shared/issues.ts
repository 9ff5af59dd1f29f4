/**
 * zod issues as people read them: one line per issue, "path: message", the path dotted ("data.status") and
 * "(input)" when the whole value is wrong. Every edge that reports validation problems as text goes through here,
 * so a producer sees the same wording from the CLI, the Publisher, the server's errors and its configuration.
 */
import type { z } from 'zod';

type Issue = Pick<z.core.$ZodIssue, 'path' | 'message'>;

/** The dotted path of an issue: `data.metrics.cpu`, `0.type`; empty for the value itself. */
export function issuePath(issue: Issue): string {
  return issue.path.map(String).join('.');
}

/** One issue as one line: `data.status: Invalid option: expected one of "idle"|"busy"|…`. */
export function describeIssue(issue: Issue, whole = '(input)'): string {
  return `${issuePath(issue) || whole}: ${issue.message}`;
}

/** Every issue, each as `describeIssue` writes it, joined with "; " into one line. */
export function describeIssues(issues: readonly Issue[], whole = '(input)'): string {
  return issues.map((issue) => describeIssue(issue, whole)).join('; ');
}
