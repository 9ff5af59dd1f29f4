CREATE TABLE `agents` (
	`agent_id` text PRIMARY KEY NOT NULL,
	`agent_type` text NOT NULL,
	`status` text NOT NULL,
	`status_event_id` integer NOT NULL,
	`last_event_id` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`type` text NOT NULL,
	`topic` text NOT NULL,
	`timestamp` integer NOT NULL,
	`key` text,
	`source` text,
	`correlation_id` text,
	`agent_id` text,
	`workflow_id` text,
	`step_id` text,
	`task_id` text,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_key_unique` ON `events` (`key`);--> statement-breakpoint
CREATE INDEX `events_topic_id` ON `events` (`topic`,`id`);--> statement-breakpoint
CREATE INDEX `events_type_id` ON `events` (`type`,`id`);--> statement-breakpoint
CREATE INDEX `events_agent_id` ON `events` (`agent_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_step_id` ON `events` (`step_id`,`id`);--> statement-breakpoint
CREATE TABLE `tdd_tasks` (
	`task_id` text PRIMARY KEY NOT NULL,
	`agent_id` text NOT NULL,
	`phase` text,
	`phase_event_id` integer,
	`last_event_id` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tdd_tasks_agent` ON `tdd_tasks` (`agent_id`);--> statement-breakpoint
CREATE TABLE `workflows` (
	`workflow_id` text PRIMARY KEY NOT NULL,
	`workflow_type` text,
	`status` text NOT NULL,
	`current_step_id` text,
	`started_at` integer,
	`finished_at` integer,
	`lifecycle_event_id` integer,
	`last_event_id` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `workflows_status` ON `workflows` (`status`,`last_event_id`);