DROP INDEX `events_agent_id`;--> statement-breakpoint
DROP INDEX `events_step_id`;--> statement-breakpoint
DROP INDEX `events_owner_key_unique`;--> statement-breakpoint
CREATE UNIQUE INDEX `events_owner_key_unique` ON `events` (`key_owner`,`key`) WHERE "events"."key" IS NOT NULL;--> statement-breakpoint
ALTER TABLE `events` DROP COLUMN `workflow_id`;--> statement-breakpoint
ALTER TABLE `events` DROP COLUMN `task_id`;