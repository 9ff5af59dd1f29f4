ALTER TABLE `agents` ADD `seen_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Agents stored before presence existed were last heard of at their last event, as far as anyone can tell.
UPDATE `agents` SET `seen_at` = `updated_at`;--> statement-breakpoint
ALTER TABLE `workflows` ADD `agent_id` text;
