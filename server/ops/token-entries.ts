/**
 * The format tokens are configured in (SWITCHBOARD_TOKENS and the tokens file): a role, the token, an optional
 * name and topic scopes; JWT claims carry the same roles and scopes. It sits under ops/, beside the one reader
 * of configuration (config.ts), so that the configuration validates tokens without importing security/, and
 * security/ (auth.ts, scopes.ts, jwt.ts) builds on it: imports point one way.
 */
import { z } from 'zod';
import { topicPatternSchema } from '@switchboard/shared';

export const scopesSchema = z.strictObject({
  /** Topics this token may subscribe to, query and read history of. */
  read: z.array(topicPatternSchema).min(1, 'list at least one pattern, or leave read out').optional(),
  /** Topics this token may publish to. */
  publish: z.array(topicPatternSchema).min(1, 'list at least one pattern, or leave publish out').optional(),
});
export type Scopes = z.output<typeof scopesSchema>;

export const roles = ['publisher', 'viewer', 'admin'] as const;
export type Role = (typeof roles)[number];

export const tokenEntrySchema = z.strictObject({
  role: z.enum(roles),
  token: z.string().min(16, 'tokens must be at least 16 characters'),
  /** Shown in logs and errors instead of the token. */
  name: z
    .string()
    .min(1)
    .max(64)
    .refine((n) => !n.startsWith('#'), 'names may not start with "#" (the server names unnamed tokens so)')
    .optional(),
  /** Topic patterns this token may read and publish; absent: every topic its role allows. */
  scopes: scopesSchema.optional(),
});
export type TokenEntry = z.output<typeof tokenEntrySchema>;
