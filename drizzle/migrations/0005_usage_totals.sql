CREATE TABLE `usage_totals` (
	`scope` text NOT NULL,
	`id` text NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cache_read_tokens` integer NOT NULL,
	`cache_creation_tokens` integer NOT NULL,
	`cost_micros` integer NOT NULL,
	`requests` integer NOT NULL,
	`last_event_id` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`scope`, `id`)
);
--> statement-breakpoint
CREATE INDEX `usage_totals_recent` ON `usage_totals` (`scope`,`last_event_id`);