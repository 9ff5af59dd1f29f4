ALTER TABLE "agents" ADD COLUMN "seen_at" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Agents stored before presence existed were last heard of at their last event, as far as anyone can tell.
UPDATE "agents" SET "seen_at" = (extract(epoch FROM "updated_at") * 1000)::bigint;--> statement-breakpoint
ALTER TABLE "workflows" ADD COLUMN "agent_id" text;
